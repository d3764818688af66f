import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { idFromKey } from '../../src/adapters/http/idempotency.ts';
import { createInMemoryEventStore } from '../../src/adapters/memory/event-store.ts';
import { createInMemorySagaStore } from '../../src/adapters/memory/saga-store.ts';
import type { DomainError } from '../../src/domain/errors.ts';
import { createBank, request } from '../support/saga.ts';

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
/** What the test knows: cash in minus cash out. */
type Model = { cash: number };

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

class Deposit implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly account: number,
    readonly amount: number,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    await real.bank.banking.depositCash(
      { accountId: real.accounts[this.account]!, amount: this.amount },
      request,
    );
    model.cash += this.amount;
    await checkInvariants(real, model);
  }
  toString = () => `deposit(${this.account}, ${this.amount})`;
}

class Withdraw implements fc.AsyncCommand<Model, Real> {
  constructor(
    readonly account: number,
    readonly amount: number,
  ) {}
  check = () => true;
  async run(model: Model, real: Real) {
    try {
      await real.bank.banking.withdrawCash(
        { accountId: real.accounts[this.account]!, amount: this.amount },
        request,
      );
      model.cash -= this.amount;
    } catch (error) {
      expect((error as DomainError).code).toBe('INSUFFICIENT_FUNDS');
    }
    await checkInvariants(real, model);
  }
  toString = () => `withdraw(${this.account}, ${this.amount})`;
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
    const transferId = idFromKey('client', `key-${this.key}`, 'transfer');
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
      expect(['SAME_ACCOUNT', 'TRANSFER_ALREADY_EXISTS']).toContain((error as DomainError).code);
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
const commands = [
  fc.tuple(account, fc.integer({ min: 1, max: 100 })).map(([a, n]) => new Deposit(a, n)),
  fc.tuple(account, fc.integer({ min: 1, max: 100 })).map(([a, n]) => new Withdraw(a, n)),
  fc
    .tuple(account, account, fc.integer({ min: 1, max: 80 }), fc.nat(6))
    .map(([f, t, n, k]) => new Transfer(f, t, n, k)),
  fc.tuple(fc.integer({ min: 1, max: 6 }), fc.boolean()).map(([n, c]) => new RunSaga(n, c)),
  fc.constant(new CrashCoordinator()),
  fc.integer({ min: 100, max: 1_500 }).map((ms) => new AdvanceClock(ms)),
];

describe('model-based: the bank under retries, deadlines and coordinator crashes', () => {
  it('conserves money and ends every transfer (seed printed on failure; replay with FC_SEED and FC_PATH)', async () => {
    const seed = process.env.FC_SEED ? Number(process.env.FC_SEED) : undefined;
    await fc.assert(
      fc.asyncProperty(fc.commands(commands, { size: '+1' }), async (cmds) => {
        const store = createInMemoryEventStore();
        const bank = createBank(store, createInMemorySagaStore(), { deadlineMs: DEADLINE_MS });
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
        const model: Model = { cash: 0 };
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
      }),
      {
        numRuns: Number(process.env.FC_RUNS ?? 1000),
        ...(seed === undefined ? {} : { seed, path: process.env.FC_PATH }),
        verbose: 1,
      },
    );
  });
});
