import { describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from '../../src/adapters/memory/event-store.ts';
import { createAggregateRepository } from '../../src/application/aggregate-repository.ts';
import type { EventStore } from '../../src/application/ports/event-store.ts';
import type { IdGenerator } from '../../src/application/ports/ids.ts';
import { type AccountCommand, accountDecider, accountStreamName } from '../../src/domain/account/index.ts';

const counterIds = (): IdGenerator => {
  let n = 0;
  return { newId: () => `00000000-0000-4000-8000-${String(++n).padStart(12, '0')}` };
};
const context = { correlationId: 'c', causationId: 'c', occurredAt: '2030-01-01T00:00:00.000Z' };
const accountId = '00000000-0000-4000-8000-000000000001';
const open: AccountCommand = { type: 'OpenAccount', data: { accountId, ownerId: 'o', currency: 'EUR' } };
const deposit = (amount: number): AccountCommand => ({ type: 'DepositCash', data: { accountId, amount } });
const hold = (transferId: string): AccountCommand => ({
  type: 'HoldTransferCredit',
  data: { accountId, transferId, amount: 5, currency: 'EUR', fromAccountId: 'elsewhere' },
});
const cancelHold = (transferId: string): AccountCommand => ({
  type: 'CancelTransferCredit',
  data: { accountId, transferId },
});

/** An account repository on `store`, as one process would have it. */
const accountsOn = (store: EventStore, cacheSize?: number) =>
  createAggregateRepository({
    store,
    decider: accountDecider,
    streamName: accountStreamName,
    ids: counterIds(),
    snapshotEvery: 0,
    ...(cacheSize === undefined ? {} : { cacheSize }),
  });

/** Two repositories on one store: two processes, each with its own cache. */
function twoProcesses(store: EventStore = createInMemoryEventStore()) {
  return { store, a: accountsOn(store), b: accountsOn(store) };
}

describe('aggregate repository with a cache', () => {
  it('decides on a stale cache only to find out: the conflict reloads, nothing is lost', async () => {
    const { store, a, b } = twoProcesses();
    await a.handle(accountId, open, context);
    await a.handle(accountId, deposit(10), context); // a's cache: revision 1
    await b.handle(accountId, deposit(20), context); // a's cache is now stale
    const handled = await a.handle(accountId, deposit(30), context);
    expect(handled.revision).toBe(3);
    expect(handled.state).toMatchObject({ available: 60 });
    expect((await store.readStream(accountStreamName(accountId))).map((e) => e.revision)).toEqual([
      0, 1, 2, 3,
    ]);
  });

  it('does not believe a stale cache that says there is nothing to do', async () => {
    const { store, a, b } = twoProcesses();
    await a.handle(accountId, open, context); // a knows no hold
    await b.handle(accountId, hold('t1'), context);
    // On a's cache the hold does not exist, so cancelling it would change nothing; fresh, it must go.
    const handled = await a.handle(accountId, cancelHold('t1'), context);
    expect(handled.events.map((e) => e.type)).toEqual(['TransferCreditCancelled']);
    expect(handled.state).toMatchObject({ pending: 0 });
    expect(await store.readStream(accountStreamName(accountId))).toHaveLength(3);
  });

  it('does not believe a stale cache that refuses the command', async () => {
    const { a, b } = twoProcesses();
    await a.handle(accountId, open, context);
    await b.handle(accountId, deposit(50), context);
    const withdrawal: AccountCommand = { type: 'WithdrawCash', data: { accountId, amount: 40 } };
    expect((await a.handle(accountId, withdrawal, context)).state).toMatchObject({ available: 10 });
  });

  it('load always reads what was appended elsewhere since the cached state', async () => {
    const { a, b } = twoProcesses();
    await a.handle(accountId, open, context);
    await b.handle(accountId, deposit(7), context);
    expect(await a.load(accountId)).toMatchObject({ revision: 1, state: { available: 7 } });
  });

  it('runs concurrent commands for one id one after another, each on the state the last one left', async () => {
    const { store, a } = twoProcesses();
    await a.handle(accountId, open, context);
    const appends: Array<[string, number]> = [];
    const counting: EventStore = {
      ...store,
      append: (stream, events, expected) => {
        appends.push([stream, expected as number]);
        return store.append(stream, events, expected);
      },
    };
    const repository = accountsOn(counting);
    await Promise.all(Array.from({ length: 20 }, () => repository.handle(accountId, deposit(1), context)));
    // No conflicts: every append expected exactly the revision the one before it reached.
    expect(appends.map(([, expected]) => expected)).toEqual(Array.from({ length: 20 }, (_, i) => i));
    expect(await a.load(accountId)).toMatchObject({ state: { available: 20 } });
  });

  it('with expectNew, guesses an empty stream and falls back to the real one when wrong', async () => {
    const { a, b } = twoProcesses();
    await b.handle(accountId, open, context);
    await expect(a.handle(accountId, open, context, { expectNew: true })).rejects.toMatchObject({
      code: 'ACCOUNT_ALREADY_EXISTS',
    });
    const other = '00000000-0000-4000-8000-000000000002';
    const created = await a.handle(
      other,
      { type: 'OpenAccount', data: { accountId: other, ownerId: 'o', currency: 'EUR' } },
      context,
      { expectNew: true },
    );
    expect(created.revision).toBe(0);
  });

  it('keeps at most cacheSize aggregates in memory, and still loads the others correctly', async () => {
    const store = createInMemoryEventStore();
    let reads = 0;
    const counting: EventStore = {
      ...store,
      readSnapshot: (stream) => {
        reads++;
        return store.readSnapshot(stream);
      },
    };
    const repository = accountsOn(counting, 2);
    const ids = ['1', '2', '3'].map((n) => `00000000-0000-4000-8000-00000000000${n}`);
    for (const id of ids) {
      await repository.handle(
        id,
        { type: 'OpenAccount', data: { accountId: id, ownerId: 'o', currency: 'EUR' } },
        context,
        { expectNew: true },
      );
    }
    reads = 0;
    await repository.load(ids[2]!);
    await repository.load(ids[1]!);
    expect(reads).toBe(0); // the two most recent are cached
    expect(await repository.load(ids[0]!)).toMatchObject({ revision: 0, state: { status: 'Open' } });
    expect(reads).toBe(1); // the oldest was dropped: a cold load reads the snapshot first
  });

  describe("observe: another process's writes, as the log shows them", () => {
    /** `repository` on `store`, counting its appends that met a newer stream (conflicts). */
    const countingConflicts = (store: EventStore) => {
      const counted = { conflicts: 0 };
      const counting: EventStore = {
        ...store,
        append: (stream, events, expected) =>
          store.append(stream, events, expected).catch((error: unknown) => {
            counted.conflicts++;
            throw error;
          }),
      };
      return { counted, repository: accountsOn(counting) };
    };
    const eventsOf = async (store: EventStore) => store.readStream(accountStreamName(accountId));

    it('moves the cached state on by the next event, so the next command here meets no conflict', async () => {
      const store = createInMemoryEventStore();
      const { counted, repository: a } = countingConflicts(store);
      const b = accountsOn(store);
      await a.handle(accountId, open, context);
      await b.handle(accountId, deposit(20), context);
      for (const event of await eventsOf(store)) a.observe(accountId, event);
      expect(await a.lastKnown(accountId)).toMatchObject({ revision: 1, state: { available: 20 } });
      await a.handle(accountId, deposit(30), context);
      expect(counted.conflicts).toBe(0);
      expect(await a.load(accountId)).toMatchObject({ revision: 2, state: { available: 50 } });
    });

    it("starts an entry at a stream's first event, and is not fooled by a gap, a repeat or another stream", async () => {
      const store = createInMemoryEventStore();
      const { counted, repository: a } = countingConflicts(store);
      const b = accountsOn(store);
      await b.handle(accountId, open, context);
      await b.handle(accountId, deposit(20), context);
      await b.handle(accountId, deposit(5), context);
      const [opened, first, second] = await eventsOf(store);
      a.observe(accountId, opened!);
      a.observe(accountId, opened!); // a repeat: already known
      a.observe(accountId, second!); // after a gap: revision 1 was never shown
      a.observe('00000000-0000-4000-8000-000000000009', first!); // not that id's stream
      expect(await a.lastKnown(accountId)).toMatchObject({ revision: 0, state: { available: 0 } });
      // The gap is read when it counts: the stale entry costs one conflict, and the deposit lands on 25.
      expect((await a.handle(accountId, deposit(1), context)).state).toMatchObject({ available: 26 });
      expect(counted.conflicts).toBe(1);
    });

    it('keeps nothing without a cache', async () => {
      const store = createInMemoryEventStore();
      await accountsOn(store).handle(accountId, open, context);
      let reads = 0;
      const uncached = accountsOn(
        {
          ...store,
          readStream: (...args) => {
            reads++;
            return store.readStream(...args);
          },
        },
        0,
      );
      const [opened] = await eventsOf(store);
      uncached.observe(accountId, opened!);
      await uncached.lastKnown(accountId);
      expect(reads).toBe(1);
    });
  });
});
