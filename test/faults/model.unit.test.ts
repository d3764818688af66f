import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { idFromKey } from '../../src/adapters/http/idempotency.ts';
import { createInMemoryEventStore } from '../../src/adapters/memory/event-store.ts';
import { createInMemorySagaStore } from '../../src/adapters/memory/saga-store.ts';
import type { DomainError } from '../../src/domain/errors.ts';
import {
  allEvents,
  createBank,
  expectConservation,
  expectMoneyRules,
  replaySeed,
  request,
} from '../support/saga.ts';

const DEADLINE_MS = 2_000;
const ACCOUNTS = 3;

/** The real system: store, bank, and a coordinator whose progress survives only up to its checkpoint. */
type Real = {
  bank: ReturnType<typeof createBank>;
  store: ReturnType<typeof createInMemoryEventStore>;
  coordinator: ReturnType<ReturnType<typeof createBank>['coordinator']>;
  accounts: string[];
  /** Saga progress: events after `delivered` are not handled yet; `checkpoint` is what survives a crash. */
  delivered: number;
  checkpoint: number;
  transfers: Set<string>;
};
/**
 * What the test knows: cash in minus cash out, every cash answer that was a success (by operation
 * id, with what it said was booked), and each key's current generation (a new one after it expired).
 */
type Model = {
  cash: number;
  answered: Map<string, { accountId: string; kind: 'deposit' | 'withdrawal'; amount: number }>;
  generations: Map<number, number>;
};

/** The operation id the HTTP edge derives from an operator's Idempotency-Key and its generation. */
const operationOf = (model: Model, key: number) =>
  idFromKey('operator', { key: `cash-${key}`, generation: String(model.generations.get(key) ?? 0) }, 'cash');

const deliver = async (real: Real, count: number) => {
  const batch = await real.store.readAll({ after: real.delivered, batchSize: count });
  for (const event of batch) await real.coordinator.handleBatch([event]);
  if (batch.length) real.delivered = batch[batch.length - 1]!.position;
};

const checkInvariants = async (real: Real, model: Model) => {
  const balances = await real.bank.balances(real.accounts);
  for (const b of balances) expect(b.available).toBeGreaterThanOrEqual(0);
  expect(balances.reduce((sum, b) => sum + b.available, 0)).toBeLessThanOrEqual(model.cash);
};

/**
 * A cash deposit or withdrawal, with an Idempotency-Key or without. A key sent again (the client
 * retrying, perhaps with other content by mistake) must be booked once or refused, never answered
 * with a success that booked nothing new for another amount.
 */
class Cash implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly kind: 'deposit' | 'withdrawal',
    readonly account: number,
    readonly amount: number,
    readonly key: number | null,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const accountId = real.accounts[this.account]!;
    const operationId = this.key === null ? undefined : operationOf(model, this.key);
    const earlier = operationId === undefined ? undefined : model.answered.get(operationId);
    // The key sent for another account: the key store refuses it (another request) before any command.
    if (earlier && earlier.accountId !== accountId) return;
    const input = { accountId, amount: this.amount, ...(operationId ? { operationId } : {}) };
    const outcome = await (this.kind === 'deposit'
      ? real.bank.banking.depositCash(input, request)
      : real.bank.banking.withdrawCash(input, request)
    ).then(
      ({ position }) => ({ position }),
      (error: DomainError) => ({ code: error.code }),
    );
    const same = earlier !== undefined && earlier.kind === this.kind && earlier.amount === this.amount;
    if (earlier && !same) {
      expect(outcome).toEqual({ code: 'OPERATION_ID_REUSED' });
    } else if (same) {
      // A retry of a booked operation: a success, and nothing new written.
      expect(outcome).toEqual({ position: null });
    } else if ('position' in outcome) {
      expect(outcome.position).not.toBeNull();
      model.cash += this.kind === 'deposit' ? this.amount : -this.amount;
      if (operationId) model.answered.set(operationId, { accountId, kind: this.kind, amount: this.amount });
    } else {
      expect(['INSUFFICIENT_FUNDS', 'ACCOUNT_CLOSED']).toContain(outcome.code);
    }
    await checkInvariants(real, model);
  }
  toString = () =>
    `${this.kind}(${this.account}, ${this.amount}${this.key === null ? '' : `, key ${this.key}`})`;
}

/** A key's record expired (24 h): the same key names a new operation from now on. */
class KeyExpires implements fc.AsyncCommand<Model, Real> {
  constructor(readonly key: number) {}
  check = () => true;
  async run(model: Model) {
    model.generations.set(this.key, (model.generations.get(this.key) ?? 0) + 1);
  }
  toString = () => `key ${this.key} expires`;
}

/** An operator empties an account and closes it: refused while a transfer leg is unresolved. */
class EmptyAndClose implements fc.AsyncCommand<Model, Real> {
  constructor(readonly account: number) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const accountId = real.accounts[this.account]!;
    const { available } = (await real.bank.balances([accountId]))[0]!;
    try {
      if (available > 0) {
        await real.bank.banking.withdrawCash({ accountId, amount: available }, request);
        model.cash -= available;
      }
      await real.bank.banking.closeAccount({ accountId }, request);
    } catch (error) {
      expect(['ACCOUNT_HAS_PENDING_TRANSFERS', 'ACCOUNT_CLOSED']).toContain((error as DomainError).code);
    }
    await checkInvariants(real, model);
  }
  toString = () => `empty and close(${this.account})`;
}

/** A client request with an idempotency key; `retry` sends the same key (and so the same transfer id) again. */
class Transfer implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly from: number,
    readonly to: number,
    readonly amount: number,
    readonly key: number,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    const transferId = idFromKey('client', { key: `key-${this.key}`, generation: '0' }, 'transfer');
    try {
      await real.bank.banking.requestTransfer(
        {
          transferId,
          fromAccountId: real.accounts[this.from]!,
          toAccountId: real.accounts[this.to]!,
          amount: this.amount,
        },
        request,
      );
      real.transfers.add(transferId);
    } catch (error) {
      expect(['SAME_ACCOUNT', 'TRANSFER_ALREADY_EXISTS', 'ACCOUNT_CLOSED']).toContain(
        (error as DomainError).code,
      );
    }
    await checkInvariants(real, model);
  }
  toString = () => `transfer(${this.from}→${this.to}, ${this.amount}, key ${this.key})`;
}

class RunSaga implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly steps: number,
    readonly saveCheckpoint: boolean,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    await deliver(real, this.steps);
    if (this.saveCheckpoint) real.checkpoint = real.delivered;
    await checkInvariants(real, model);
  }
  toString = () => `saga(${this.steps}${this.saveCheckpoint ? ', checkpoint' : ''})`;
}

/** The coordinator dies: a new one resumes from the durable checkpoint and sees events again. */
class CrashCoordinator implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(_: Model, real: Real) {
    real.coordinator = real.bank.coordinator();
    real.delivered = real.checkpoint;
  }
  toString = () => 'crash+restart coordinator';
}

class AdvanceClock implements fc.AsyncCommand<Model, Real> {
  constructor(readonly ms: number) {}
  check = () => true;
  async run(model: Model, real: Real) {
    real.bank.clock.advance(this.ms);
    await real.coordinator.fireDueDeadlines();
    await checkInvariants(real, model);
  }
  toString = () => `advance(${this.ms} ms) + deadlines`;
}

const account = fc.nat(ACCOUNTS - 1);
const cashKey = fc.option(fc.nat(3), { freq: 2 });
const commands = [
  fc
    .tuple(
      fc.constantFrom('deposit' as const, 'withdrawal' as const),
      account,
      fc.integer({ min: 1, max: 100 }),
      cashKey,
    )
    .map(([kind, a, n, k]) => new Cash(kind, a, n, k)),
  fc
    .tuple(account, fc.integer({ min: 1, max: 100 }), fc.nat(3))
    .map(([a, n, k]) => new Cash('deposit', a, n, k)),
  fc.nat(3).map((k) => new KeyExpires(k)),
  account.map((a) => new EmptyAndClose(a)),
  fc
    .tuple(account, account, fc.integer({ min: 1, max: 80 }), fc.nat(6))
    .map(([f, t, n, k]) => new Transfer(f, t, n, k)),
  fc.tuple(fc.integer({ min: 1, max: 6 }), fc.boolean()).map(([n, c]) => new RunSaga(n, c)),
  fc.constant(new CrashCoordinator()),
  fc.integer({ min: 100, max: 1_500 }).map((ms) => new AdvanceClock(ms)),
];

describe('model-based: the bank under retries, deadlines, closings and coordinator crashes', () => {
  it('conserves money, keeps SPEC’s rules and ends every transfer (seed printed; replay with FC_SEED and FC_PATH)', async () => {
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { size: '+1' }), async (cmds) => {
        const store = createInMemoryEventStore();
        const sagaStore = createInMemorySagaStore();
        const bank = createBank(store, sagaStore, { deadlineMs: DEADLINE_MS });
        const accounts = [];
        for (let i = 0; i < ACCOUNTS; i++) accounts.push(await bank.openWith(0));
        const real: Real = {
          bank,
          store,
          coordinator: bank.coordinator(),
          accounts,
          delivered: await store.headPosition(),
          checkpoint: 0,
          transfers: new Set(),
        };
        real.checkpoint = real.delivered;
        const model: Model = { cash: 0, answered: new Map(), generations: new Map() };
        await fc.asyncModelRun(() => ({ model, real }), cmds);

        // Quiescence: the saga catches up, every deadline passes, and it catches up again (bounded).
        for (let round = 0; round < 20; round++) {
          await deliver(real, 10_000);
          bank.clock.advance(DEADLINE_MS + 1);
          await real.coordinator.fireDueDeadlines();
        }
        await deliver(real, 10_000);
        expect(await store.readAll({ after: real.delivered })).toEqual([]);
        for (const id of real.transfers)
          expect(['Completed', 'Cancelled']).toContain((await bank.transferState(id)).status);
        const balances = await bank.balances(accounts);
        expect(balances.every((b) => b.pending === 0 && b.available >= 0)).toBe(true);
        expect(balances.reduce((sum, b) => sum + b.available, 0)).toBe(model.cash);
        await expectConservation(store);
        await expectMoneyRules(store);
        expect(await sagaStore.parked(), 'no compensation refused, nothing parked').toEqual([]);
        // Every success answered for a keyed cash operation is exactly one booked event, as answered.
        const booked = (await allEvents(store)).filter((e) => typeof e.data.operationId === 'string');
        expect([...model.answered].map(([id, op]) => [id, op.kind, op.amount]).sort()).toEqual(
          booked
            .map((e) => [
              e.data.operationId,
              e.type === 'CashDeposited' ? 'deposit' : 'withdrawal',
              e.data.amount,
            ])
            .sort(),
        );
      }),
      { numRuns: Number(process.env.FC_RUNS ?? 1000), ...replaySeed('model-based test'), verbose: 1 },
    );
  });
});
