import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from '../../src/adapters/memory/event-store.ts';
import { createAggregateRepository } from '../../src/application/aggregate-repository.ts';
import type { IdGenerator } from '../../src/application/ports/ids.ts';
import {
  type AccountCommand,
  type AccountEvent,
  accountDecider,
  accountStreamName,
  type OpenedAccount,
} from '../../src/domain/account/index.ts';
import {
  type Decider,
  fold,
  type Message,
  snapshotStateOf,
  stateFromSnapshot,
} from '../../src/domain/decider.ts';
import { DomainError } from '../../src/domain/errors.ts';
import {
  type TransferCommand,
  transferDecider,
  transferStreamName,
} from '../../src/domain/transfer/index.ts';

const accountId = 'acc-1';
const transferId = 't-1';
const deadlineAt = '2030-01-01T00:00:30.000Z';

/** Multiples of 100, so random deposits and withdrawals often bring a balance back to zero. */
const amount = fc.oneof(
  { weight: 12, arbitrary: fc.integer({ min: 1, max: 5 }).map((n) => n * 100) },
  { weight: 1, arbitrary: fc.constantFrom(0, -100, 1.5) },
);
const currency = fc.oneof(
  { weight: 8, arbitrary: fc.constant('EUR') },
  { weight: 1, arbitrary: fc.constant('USD') },
);

/** One kind of command, drawn `weight` times as often as a weight-1 kind. */
const kind = <Type extends string, Data>(
  weight: number,
  type: Type,
  data: { [Key in keyof Data]: fc.Arbitrary<Data[Key]> },
) => ({ weight, arbitrary: fc.record({ type: fc.constant(type), data: fc.record(data) }) });

const onAccount = { accountId: fc.constant(accountId) };
// Mostly separate ids for credits and debits, with one shared each way to reach the cross-leg rejections.
const credit = { ...onAccount, transferId: fc.constantFrom('c-1', 'c-2', 'c-3', 'd-1') };
const debit = { ...onAccount, transferId: fc.constantFrom('d-1', 'd-2', 'd-3', 'c-1') };
// Cash operation ids, some booked more than the retention apart, so the state both remembers and forgets.
const operation = fc.record({
  id: fc.constantFrom('op-1', 'op-2', 'op-3'),
  at: fc.constantFrom('2030-01-01T00:00:00.000Z', '2030-01-02T00:00:00.000Z', '2030-01-04T00:00:00.000Z'),
});
const openCommand: AccountCommand = {
  type: 'OpenAccount',
  data: { accountId, ownerId: 'o-1', currency: 'EUR' },
};

// Weighted so that histories reach every event: refunds need a debit first, closing needs a zero balance.
const accountCommand: fc.Arbitrary<AccountCommand> = fc.oneof(
  kind(1, 'OpenAccount', { ...onAccount, ownerId: fc.constant('o-1'), currency }),
  kind(4, 'DepositCash', { ...onAccount, amount }),
  kind(3, 'WithdrawCash', { ...onAccount, amount }),
  kind(2, 'DepositCash', { ...onAccount, amount, operation }),
  kind(1, 'WithdrawCash', { ...onAccount, amount, operation }),
  kind(3, 'HoldTransferCredit', { ...credit, amount, currency, fromAccountId: fc.constant('acc-2') }),
  kind(2, 'ReleaseTransferCredit', credit),
  kind(2, 'CancelTransferCredit', credit),
  kind(3, 'DebitForTransfer', { ...debit, amount, currency, toAccountId: fc.constant('acc-2') }),
  kind(2, 'VoidTransferDebit', {
    ...debit,
    amount,
    toAccountId: fc.constant('acc-2'),
    reason: fc.constant('DEADLINE_EXPIRED'),
  }),
  kind(2, 'RefundTransferDebit', debit),
  kind(1, 'CloseAccount', onAccount),
);

const onTransfer = { transferId: fc.constant(transferId) };
const requestCommand: TransferCommand = {
  type: 'RequestTransfer',
  data: {
    transferId,
    fromAccountId: 'acc-1',
    toAccountId: 'acc-2',
    amount: 500,
    currency: 'EUR',
    deadlineAt,
  },
};

const transferCommand: fc.Arbitrary<TransferCommand> = fc.oneof(
  kind(1, 'RequestTransfer', {
    ...onTransfer,
    fromAccountId: fc.constant('acc-1'),
    toAccountId: fc.constantFrom('acc-2', 'acc-1'),
    amount,
    currency,
    deadlineAt: fc.constant(deadlineAt),
  }),
  kind(4, 'RecordCreditHeld', onTransfer),
  kind(4, 'RecordDebit', onTransfer),
  kind(4, 'CompleteTransfer', onTransfer),
  kind(1, 'CancelTransfer', {
    ...onTransfer,
    reason: fc.constantFrom('INSUFFICIENT_FUNDS', 'DEADLINE_EXPIRED', 'ACCOUNT_CLOSED', 'BALANCE_LIMIT'),
  }),
  kind(2, 'RecordCompensation', {
    ...onTransfer,
    step: fc.constantFrom('CREDIT_CANCELLED', 'DEBIT_REFUNDED'),
  }),
);

/** Mostly starts with the command that creates the aggregate, so most histories get past it. */
const startingWith = <Command>(first: Command, rest: fc.Arbitrary<Command>, maxLength: number) =>
  fc
    .tuple(fc.option(fc.constant(first), { freq: 5 }), fc.array(rest, { maxLength, size: 'max' }))
    .map(([head, tail]) => (head === null ? tail : [head, ...tail]));

const accountCommands = startingWith(openCommand, accountCommand, 40);
const transferCommands = startingWith(requestCommand, transferCommand, 15);

/** Runs the commands through `decide` from the initial state; rejected commands leave no trace. */
function historyOf<Command, Event, State>(
  decider: Decider<Command, Event, State>,
  commands: Command[],
): Event[] {
  const history: Event[] = [];
  let state = decider.initialState();
  for (const command of commands) {
    try {
      const events = decider.decide(command, state);
      state = fold(decider, state, events);
      history.push(...events);
    } catch (error) {
      if (!(error instanceof DomainError)) throw error;
    }
  }
  return history;
}

/** A snapshot store keeps JSON: what survives the round trip is what a snapshot holds. */
const stored = <T>(value: T): T => JSON.parse(JSON.stringify(value));

const counterIds = (): IdGenerator => {
  let next = 0;
  return { newId: () => `e-${++next}` };
};

const context = { correlationId: 'c-1', causationId: 'c-1', occurredAt: '2030-01-01T00:00:00.000Z' };

type Aggregate<Command, Event, State> = {
  decider: Decider<Command, Event, State>;
  id: string;
  streamName: (id: string) => string;
  commands: fc.Arbitrary<Command[]>;
};

function snapshotProperties<Command, Event extends Message, State>(
  name: string,
  { decider, id, streamName, commands }: Aggregate<Command, Event, State>,
) {
  /** A fresh in-memory store with every command sent through the real repository; rejections leave no trace. */
  async function recordThroughRepository(commands: Command[], snapshotEvery: number) {
    const store = createInMemoryEventStore();
    const repository = createAggregateRepository({
      store,
      decider,
      streamName,
      ids: counterIds(),
      snapshotEvery,
    });
    for (const command of commands) {
      await repository.handle(id, command, context).catch((error: unknown) => {
        if (!(error instanceof DomainError)) throw error;
      });
    }
    /** A repository that has seen none of it (another process): it loads the snapshot and the tail. */
    const cold = () =>
      createAggregateRepository({ store, decider, streamName, ids: counterIds(), snapshotEvery });
    return { store, repository, cold };
  }

  describe(`${name} snapshots`, () => {
    it('snapshot + tail equals the full replay, at every cut', () => {
      fc.assert(
        fc.property(commands, fc.nat(), (given, cutSeed) => {
          const history = historyOf(decider, given);
          const cut = cutSeed % (history.length + 1);
          // Through JSON, as every store keeps a snapshot, and the decider's own snapshot codec.
          const written = snapshotStateOf(
            decider,
            fold(decider, decider.initialState(), history.slice(0, cut)),
          );
          const snapshot = stateFromSnapshot(decider, stored(written));
          const full = fold(decider, decider.initialState(), history);
          expect(fold(decider, snapshot, history.slice(cut))).toEqual(full);
        }),
      );
    });

    it('the repository decides and loads the same with snapshots as a pure replay', async () => {
      await fc.assert(
        fc.asyncProperty(commands, fc.integer({ min: 1, max: 8 }), async (given, snapshotEvery) => {
          const { store, repository, cold } = await recordThroughRepository(given, snapshotEvery);
          const history = historyOf(decider, given);
          const recorded = await store.readStream(streamName(id));
          expect(recorded.map(({ type, data }) => ({ type, data }))).toEqual(stored(history));

          // The repository that wrote it loads from its cache and the (empty) tail; another one,
          // from the snapshot and the tail.
          const loaded = await cold().load(id);
          expect(await repository.load(id)).toEqual(loaded);
          expect(loaded).toEqual({
            state: fold(decider, decider.initialState(), history),
            revision: history.length === 0 ? 'no_stream' : history.length - 1,
          });
          const snapshot = await store.readSnapshot(streamName(id));
          expect(snapshot === null).toBe(history.length < snapshotEvery);
        }),
        { numRuns: 60 },
      );
    });

    it('a snapshot of an older schema is ignored; one of the current schema is used', async () => {
      await fc.assert(
        fc.asyncProperty(commands, async (given) => {
          const history = historyOf(decider, given);
          fc.pre(history.length > 0);
          const { store, cold } = await recordThroughRepository(given, 0);
          const bogus = { revision: history.length - 1, state: { status: 'Bogus' } };

          await store.writeSnapshot(streamName(id), {
            ...bogus,
            schemaVersion: decider.snapshotSchemaVersion - 1,
          });
          expect((await cold().load(id)).state).toEqual(fold(decider, decider.initialState(), history));

          await store.writeSnapshot(streamName(id), {
            ...bogus,
            schemaVersion: decider.snapshotSchemaVersion,
          });
          expect((await cold().load(id)).state).toEqual(bogus.state);
        }),
        { numRuns: 30 },
      );
    });
  });
}

snapshotProperties('Account', {
  decider: accountDecider,
  id: accountId,
  streamName: accountStreamName,
  commands: accountCommands,
});

snapshotProperties('Transfer', {
  decider: transferDecider,
  id: transferId,
  streamName: transferStreamName,
  commands: transferCommands,
});

/** How each event moves `available + pending`; a release moves money between the two, so it is absent. */
const balanceEffect: Partial<Record<AccountEvent['type'], 1 | -1>> = {
  CashDeposited: 1,
  TransferCreditHeld: 1,
  TransferDebitRefunded: 1,
  CashWithdrawn: -1,
  TransferCreditCancelled: -1,
  TransferDebited: -1,
};

/** What the events say the balance must be, summed independently of `evolve`. */
const expectedBalance = (history: AccountEvent[]): number =>
  history.reduce(
    (total, { type, data }) => total + (balanceEffect[type] ?? 0) * ('amount' in data ? data.amount : 0),
    0,
  );

describe('Account invariants', () => {
  it('never goes negative and conserves money, whatever the history', () => {
    fc.assert(
      fc.property(fc.array(accountCommand, { maxLength: 60 }), (commands) => {
        const history = historyOf(accountDecider, [openCommand, ...commands]);
        const state = fold(accountDecider, accountDecider.initialState(), history) as OpenedAccount;
        expect(state.available).toBeGreaterThanOrEqual(0);
        expect(state.pending).toBeGreaterThanOrEqual(0);
        expect(state.available + state.pending).toBe(expectedBalance(history));
        const heldLegs = [...state.legs.values()].filter(
          (leg) => leg.side === 'credit' && leg.phase === 'held',
        );
        expect(state.pending).toBe(heldLegs.reduce((sum, leg) => sum + leg.amount, 0));
      }),
      { numRuns: 300 },
    );
  });
});

describe('Account snapshot format', () => {
  const opened = accountDecider.evolve(accountDecider.initialState(), {
    type: 'AccountOpened',
    data: { accountId, ownerId: 'o', currency: 'EUR' },
  });
  const held = accountDecider.evolve(opened, {
    type: 'TransferCreditHeld',
    data: { accountId, transferId, amount: 500, fromAccountId: 'acc-2' },
  });

  it('stores the legs as a plain object keyed by transfer id, the shape schema 3 has always had', () => {
    const written = JSON.parse(JSON.stringify(snapshotStateOf(accountDecider, held)));
    expect(written.legs).toEqual({ [transferId]: { side: 'credit', amount: 500, phase: 'held' } });
    const read = stateFromSnapshot(accountDecider, written);
    expect(read).toEqual(held);
    // What was read back goes on as the folded state does: the hold is known, a release applies.
    const released = accountDecider.evolve(read, {
      type: 'TransferCreditReleased',
      data: { accountId, transferId, amount: 500 },
    });
    expect(released).toMatchObject({ available: 500, pending: 0 });
    expect(
      accountDecider.decide(
        {
          type: 'HoldTransferCredit',
          data: { accountId, transferId, amount: 500, currency: 'EUR', fromAccountId: 'acc-2' },
        },
        read,
      ),
    ).toEqual([]);
  });

  it('stores an unopened account as it is', () => {
    const initial = accountDecider.initialState();
    expect(
      stateFromSnapshot(accountDecider, JSON.parse(JSON.stringify(snapshotStateOf(accountDecider, initial)))),
    ).toEqual(initial);
  });
});
