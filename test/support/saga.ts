import { randomUUID } from 'node:crypto';
import { expect } from 'vitest';
import { createInMemoryPartitionLeases } from '../../src/adapters/memory/partition-leases.ts';
import { createBankingService, type RequestContext } from '../../src/application/banking-service.ts';
import type { EventStore, RecordedEvent } from '../../src/application/ports/event-store.ts';
import { randomIds } from '../../src/application/ports/ids.ts';
import { silentLogger } from '../../src/application/ports/logger.ts';
import type { PartitionLeases } from '../../src/application/ports/partition-leases.ts';
import type { SagaStore } from '../../src/application/ports/saga-store.ts';
import {
  createTransferSagaCoordinator,
  startTransferSagaProcessor,
  type TransferSagaCoordinator,
} from '../../src/application/transfer-saga-coordinator.ts';
import type { TransferState } from '../../src/domain/transfer/index.ts';
import { SAGA_EVENT_TYPES } from '../../src/sagas/transfer-saga.ts';
import { BALANCE_MOVES } from './balance-moves.ts';

export const request: RequestContext = { requestId: 'test-request', principal: 'tester' };

/** A clock the test moves by hand. */
export const fakeClock = (start = Date.parse('2030-01-01T00:00:00.000Z')) => {
  let now = start;
  return {
    now: () => new Date(now),
    advance: (ms: number) => {
      now += ms;
    },
  };
};

/**
 * The instances of one test share their leases per store and processor name, as instances share
 * one PostgreSQL. A processor of another name gets leases of its own: the leases count an
 * instance towards every processor's fair share, so one that never claims a processor's
 * partitions (it runs another) would leave part of them to nobody.
 */
const leasesByStore = new WeakMap<EventStore, Map<string, PartitionLeases>>();
const leasesOf = (store: EventStore, name: string) => {
  const byName = leasesByStore.get(store) ?? new Map<string, PartitionLeases>();
  leasesByStore.set(store, byName);
  const leases = byName.get(name) ?? createInMemoryPartitionLeases();
  byName.set(name, leases);
  return leases;
};

/**
 * `saga` behind its partitioned processor, as one more instance (its own lease owner) on `store`.
 * A processor `name` of its own leases every partition again: it handles every event once more.
 */
export function runSaga(saga: TransferSagaCoordinator, store: EventStore, name = 'transfer-saga') {
  const processor = startTransferSagaProcessor(saga, {
    store,
    leases: leasesOf(store, name),
    owner: randomUUID(),
    logger: silentLogger,
    name,
  });
  return {
    stop: () => processor.stop(),
  };
}

/** The write side and saga wired on a store, with a hand-moved clock. */
export function createBank(store: EventStore, sagaStore: SagaStore, options: { deadlineMs?: number } = {}) {
  const clock = fakeClock();
  const banking = createBankingService({
    store,
    ids: randomIds,
    clock,
    snapshotEvery: 5,
    transferDeadlineMs: options.deadlineMs ?? 30_000,
  });
  /**
   * A coordinator; `start()` runs it behind its processor as `esbank serve` does (runSaga), `stop()`
   * stops it and gives its partitions back.
   */
  const coordinator = (name = 'transfer-saga') => {
    const saga = createTransferSagaCoordinator({
      sagaStore,
      accounts: banking.accounts,
      transfers: banking.transfers,
      clock,
      logger: silentLogger,
    });
    let running: { stop(): Promise<void> } | undefined;
    return {
      ...saga,
      start() {
        running ??= runSaga(saga, store, name);
      },
      async stop() {
        await running?.stop();
        running = undefined;
      },
    };
  };

  const openWith = async (amount: number, currency = 'EUR') => {
    const { accountId } = await banking.openAccount({ ownerId: 'owner', currency }, request);
    if (amount > 0) await banking.depositCash({ accountId, amount }, request);
    return accountId;
  };

  const transferState = async (transferId: string): Promise<TransferState> =>
    (await banking.loadTransfer(transferId)).state;

  /** Waits (bounded) until every transfer has ended and its compensations are recorded. */
  const settle = async (transferIds: string[], timeoutMs = 20_000) => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const states = await Promise.all(transferIds.map(transferState));
      const done = states.every(
        (s) =>
          s.status === 'Completed' ||
          (s.status === 'Cancelled' && s.compensations.includes('CREDIT_CANCELLED')),
      );
      if (done) return states;
      if (Date.now() > deadline) throw new Error(`Transfers did not settle: ${states.map((s) => s.status)}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const balances = async (accountIds: string[]) =>
    Promise.all(
      accountIds.map(async (id) => {
        const { state } = await banking.loadAccount(id);
        if (state.status === 'Unopened') throw new Error(`no account ${id}`);
        return { id, available: state.available, pending: state.pending };
      }),
    );

  return { banking, clock, coordinator, openWith, transferState, settle, balances };
}

export async function allEvents(store: EventStore): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (let after = 0; ; ) {
    const batch = await store.readAll({ after, batchSize: 1000 });
    if (batch.length === 0) return events;
    events.push(...batch);
    after = batch[batch.length - 1]!.position;
  }
}

/**
 * Money is neither created nor destroyed: at quiescence no credit is pending and the accounts hold
 * exactly what was deposited minus what was withdrawn (folded from the log itself).
 */
export async function expectConservation(store: EventStore) {
  const events = await allEvents(store);
  const sign = (table: Record<string, number>, e: RecordedEvent) =>
    (table[e.type] ?? 0) * Number(e.data.amount ?? 0);
  const availableDelta = {
    CashDeposited: 1,
    CashWithdrawn: -1,
    TransferCreditReleased: 1,
    TransferDebited: -1,
    TransferDebitRefunded: 1,
  };
  const pendingDelta = { TransferCreditHeld: 1, TransferCreditReleased: -1, TransferCreditCancelled: -1 };
  const cash = events.reduce((sum, e) => sum + sign({ CashDeposited: 1, CashWithdrawn: -1 }, e), 0);
  const available = events.reduce((sum, e) => sum + sign(availableDelta, e), 0);
  const pending = events.reduce((sum, e) => sum + sign(pendingDelta, e), 0);
  expect(pending).toBe(0);
  expect(available).toBe(cash);
  return { cash, available };
}

/** No account holds, debits, releases, cancels or refunds twice for one transfer. */
export async function expectNoDoubleSteps(store: EventStore) {
  const events = await allEvents(store);
  const counts = new Map<string, number>();
  for (const e of events) {
    if (!(SAGA_EVENT_TYPES as readonly string[]).includes(e.type)) continue;
    const key = `${e.streamName}|${e.type}|${String(e.data.transferId)}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  const doubled = [...counts.entries()].filter(([, n]) => n > 1);
  expect(doubled).toEqual([]);
}

/**
 * SPEC's rules for money, checked on the log itself (not only the sums):
 * - the pivot is the source's: no transfer is both debited and voided on its source, and one whose
 *   source was debited ends COMPLETED (never CANCELLED, never refunded);
 * - a closed account holds 0 and stays at 0: nothing moves its balance after AccountClosed;
 * - every transfer ends, and a cancelled one gave back its held credit.
 * Returns the transfers' outcomes for further checks.
 */
export async function expectMoneyRules(store: EventStore) {
  const events = await allEvents(store);
  const byTransfer = new Map<string, Set<string>>();
  const closedAt = new Map<string, number>();
  const movedAfterClose: string[] = [];
  for (const e of events) {
    if (e.type === 'AccountClosed') closedAt.set(e.streamName, e.revision);
    else if (BALANCE_MOVES.has(e.type) && closedAt.has(e.streamName))
      movedAfterClose.push(`${e.streamName} ${e.type}`);
    const transferId = e.data.transferId;
    if (typeof transferId !== 'string') continue;
    const seen = byTransfer.get(transferId) ?? new Set<string>();
    seen.add(e.type);
    byTransfer.set(transferId, seen);
  }
  expect(movedAfterClose, 'a closed account holds 0 and stays at 0').toEqual([]);
  const broken: string[] = [];
  for (const [transferId, seen] of byTransfer) {
    if (!seen.has('TransferRequested')) continue;
    if (seen.has('TransferDebited') && seen.has('TransferDebitVoided'))
      broken.push(`${transferId}: debited and voided`);
    if (seen.has('TransferDebited') && !seen.has('TransferCompleted'))
      broken.push(`${transferId}: source debited, not completed`);
    if (seen.has('TransferDebited') && seen.has('TransferCancelled'))
      broken.push(`${transferId}: source debited, then cancelled`);
    if (seen.has('TransferDebitRefunded')) broken.push(`${transferId}: refunded (only old histories may)`);
    if (!seen.has('TransferCompleted') && !seen.has('TransferCancelled'))
      broken.push(`${transferId}: never ended`);
    if (
      seen.has('TransferCreditHeld') &&
      seen.has('TransferCancelled') &&
      !seen.has('TransferCreditCancelled')
    )
      broken.push(`${transferId}: cancelled, credit still held`);
  }
  expect(broken, 'after the pivot only forward; every transfer ends').toEqual([]);
  return byTransfer;
}

/** fast-check prints the seed and path of a failing run; FC_SEED and FC_PATH replay it. */
export const replaySeed = (name = 'property') => {
  // Every run prints its seed, so any run (not only a failing one) can be replayed with FC_SEED.
  const seed =
    process.env.FC_SEED === undefined ? (Math.random() * 2 ** 31) | 0 : Number(process.env.FC_SEED);
  console.log(`${name}: fast-check seed ${seed} (replay with FC_SEED=${seed})`);
  return { seed, ...(process.env.FC_PATH ? { path: process.env.FC_PATH } : {}) };
};

/**
 * Hands `coordinator` the log's events by hand, in log order, each once: `deliver` those of the
 * given types not yet handed over, `deliverAll` everything until nothing new comes (bounded).
 */
export function handDelivery(store: EventStore, coordinator: Pick<TransferSagaCoordinator, 'handleBatch'>) {
  let delivered = 0;
  const deliver = async (...types: string[]) => {
    const events = (await allEvents(store)).filter((e) => e.position > delivered && types.includes(e.type));
    for (const event of events) await coordinator.handleBatch([event]);
    if (events.length) delivered = events[events.length - 1]!.position;
    return events;
  };
  const deliverAll = async () => {
    for (let round = 0; round < 20; round++) {
      const fresh = (await allEvents(store)).filter((e) => e.position > delivered);
      if (fresh.length === 0) return;
      for (const event of fresh) await coordinator.handleBatch([event]);
      delivered = fresh[fresh.length - 1]!.position;
    }
  };
  return { deliver, deliverAll };
}
