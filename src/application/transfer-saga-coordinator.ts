import { setMaxListeners } from 'node:events';
import { DomainError } from '../domain/errors.ts';
import {
  isSagaEvent,
  onDeadline,
  react,
  SAGA_EVENT_TYPES,
  type SagaCommand,
  type SagaEvent,
  type SagaReaction,
} from '../sagas/transfer-saga.ts';
import type { CommandContext } from './aggregate-repository.ts';
import type { AccountRepository, TransferRepository } from './banking-service.ts';
import { inParallel } from './in-parallel.ts';
import { startPartitionedProcessor } from './partitioned-processor.ts';
import type { Clock } from './ports/clock.ts';
import { type EventStore, type RecordedEvent, WrongExpectedRevisionError } from './ports/event-store.ts';
import type { AppLogger } from './ports/logger.ts';
import type { PartitionLeases } from './ports/partition-leases.ts';
import type { SagaStore } from './ports/saga-store.ts';
import { type Fence, LeaseLostError, type LeaseTiming } from './processor.ts';
import { backoff, isTransient, type RetryPolicy, retry } from './retry.ts';
import { inEventSpan } from './tracing.ts';

export type TransferSagaCoordinatorDeps = {
  sagaStore: SagaStore;
  accounts: AccountRepository;
  transfers: TransferRepository;
  clock: Clock;
  logger: AppLogger;
  /** How many transfers of one batch are worked on at once (events of one transfer stay in order). */
  concurrency?: number;
  deadlineLeaseMs?: number;
  /** Retries of a transient failure (store down) before the subscription restarts from its checkpoint. */
  transientAttempts?: number;
};

export type TransferSagaCoordinator = {
  /**
   * Handles a batch of saga events, as its processor delivers them (tests drive redelivery with
   * it). `fence` is checked before every command: once the batch's partitions are lost, nothing more is sent.
   */
  handleBatch(events: RecordedEvent[], fence?: Fence): Promise<void>;
  /**
   * Saga events of any partition, as the log shows them: the accounts this process knows move on
   * by what other instances wrote (state-cache.ts: observe). A transfer's own events are followed
   * as they are handled: only its partition's owner writes to it.
   */
  observe(events: readonly RecordedEvent[]): void;
  /** Stops what is in flight from retrying (a stop of the service). */
  stop(): void;
  /** Claims due deadlines and has their sources decide the pivot (onDeadline); returns how many were claimed. */
  fireDueDeadlines(): Promise<number>;
  /**
   * Handles one event again, as the subscription does but once and without parking it: what the
   * handler throws reaches the caller (an operator retrying a parked event, `esbank parked retry`).
   */
  retry(event: RecordedEvent): Promise<void>;
};

/** The transfer changed under us (a deadline raced a step): load it again and re-decide. */
const isRace = (error: unknown) =>
  error instanceof WrongExpectedRevisionError ||
  (error instanceof DomainError &&
    ['TRANSFER_NOT_PENDING', 'TRANSFER_PAST_PIVOT', 'INVALID_TRANSITION'].includes(error.code));

/** A step that raced another (a deadline, another instance): react again on the transfer as it is now. */
const RACES: RetryPolicy = { attempts: 20, delayMs: () => 0, retryOn: isRace };
/** An event that keeps failing for another reason is tried this often before it is parked. */
const POISON: RetryPolicy = {
  attempts: 3,
  delayMs: () => 0,
  retryOn: (error) => !isTransient(error) && !(error instanceof LeaseLostError),
};

/**
 * TransferSagaCoordinator (SPEC §3): reads the log through a checkpointed subscription, and for
 * each saga event loads the transfer, asks the pure `react` what to do, and sends the commands.
 * Every command is idempotent in its aggregate, so redelivery after a crash, duplicates and several
 * instances change nothing; the checkpoint moves only after a batch is fully handled.
 */
export function createTransferSagaCoordinator(deps: TransferSagaCoordinatorDeps): TransferSagaCoordinator {
  const { sagaStore, accounts, transfers, clock, logger } = deps;
  const concurrency = deps.concurrency ?? 256;
  const leaseMs = deps.deadlineLeaseMs ?? 30_000;
  const stopping = new AbortController();
  // Every step waiting out an outage listens for the stop: hundreds at once is expected, not a leak.
  setMaxListeners(0, stopping.signal);

  const context = (transferId: string, causationId: string): CommandContext => ({
    correlationId: transferId,
    causationId,
    occurredAt: clock.now().toISOString(),
    principal: 'saga:transfer',
  });

  async function execute(command: SagaCommand, ctx: CommandContext) {
    if (command.aggregate === 'account') await accounts.handle(command.id, command.command, ctx);
    else await transfers.handle(command.id, command.command, ctx);
  }

  /**
   * Sends a reaction: its deadline changes and its commands (in order) at the same time, for
   * neither depends on the other: a step that fails half-way is tried again whole, and each part
   * is idempotent (an upsert, a delete, a command its aggregate records once).
   */
  async function apply(reaction: SagaReaction, ctx: CommandContext, fence: Fence | undefined) {
    const deadlines = async () => {
      for (const deadline of reaction.deadlines) {
        fence?.assert();
        if (deadline.type === 'schedule')
          await sagaStore.schedule(deadline.transferId, new Date(deadline.dueAt));
        else await sagaStore.cancel(deadline.transferId);
      }
    };
    const commands = async () => {
      for (const command of reaction.commands) {
        fence?.assert();
        await execute(command, ctx);
      }
    };
    // Both settle before a failure is reported, so a retry never overlaps the attempt before it.
    const [failed] = (await Promise.allSettled([deadlines(), commands()])).filter(
      (outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected',
    );
    if (failed) throw failed.reason;
  }

  /** Store outages within one step, waited out a few times before the subscription restarts. */
  const outages: RetryPolicy = {
    attempts: deps.transientAttempts ?? 6,
    delayMs: backoff({ initialMs: 100, maxMs: 5_000 }),
    retryOn: isTransient,
  };

  /** Runs one saga step (`decide`) until it settles: through outages, and again after races. */
  const reactUntilSettled = (transferId: string, decide: () => Promise<void>) =>
    retry(() => retry(decide, outages, { signal: stopping.signal }), RACES, {
      onRetry: (error) =>
        logger.debug(
          { correlationId: transferId, err: error },
          'transfer changed under the saga; reacting again',
        ),
    });

  /**
   * The reaction to `event`, decided on the transfer as this process last knew it (no read: the
   * coordinator made the previous step itself, as a rule). Every step it leads to is checked again
   * where it counts: a transfer command by the transfer's expected revision, an account command by
   * the account's own record of the transfer. Only "nothing to do" is not checked later, so that
   * answer is only taken from the transfer read afresh, or from a completed one (nothing follows
   * a completion: a fresh read could only say the same).
   */
  async function reactTo(event: SagaEvent, transferId: string): Promise<SagaReaction> {
    const { state } = await transfers.lastKnown(transferId);
    const known = react(event, state, clock.now());
    if (known.commands.length > 0 || known.deadlines.length > 0 || state.status === 'Completed') return known;
    return react(event, (await transfers.load(transferId)).state, clock.now());
  }

  /** The saga's handling of one event, until it settles; throws what it cannot handle. */
  async function settle(event: SagaEvent & RecordedEvent, transferId: string, fence?: Fence) {
    const ctx = context(transferId, event.id);
    await reactUntilSettled(transferId, async () => apply(await reactTo(event, transferId), ctx, fence));
  }

  /** `settle` in a span that continues the trace the event was written in (src/application/tracing.ts). */
  const settleTraced = (event: SagaEvent & RecordedEvent, transferId: string, fence?: Fence) =>
    inEventSpan(
      event.metadata,
      `saga ${event.type}`,
      { 'esbank.transfer_id': transferId, 'esbank.event_id': event.id },
      () => settle(event, transferId, fence),
    );

  async function handleEvent(event: RecordedEvent, fence: Fence | undefined) {
    if (!isSagaEvent(event)) return;
    const transferId = String(event.data.transferId);
    // A transfer event another process appended (the API's TransferRequested, a step before a
    // takeover) is the transfer's next state here: no read to learn it.
    transfers.observe(transferId, event);
    try {
      await retry(() => settleTraced(event, transferId, fence), POISON);
    } catch (error) {
      // An outage: the processor restarts from its checkpoints. A lost lease: another instance has it.
      if (isTransient(error) || error instanceof LeaseLostError) throw error;
      logger.error(
        {
          correlationId: transferId,
          eventId: event.id,
          eventType: event.type,
          position: event.position,
          err: error,
        },
        'saga parked an event it cannot handle',
      );
      await sagaStore.park({
        eventId: event.id,
        position: event.position,
        type: event.type,
        correlationId: transferId,
        error: error instanceof Error ? error.message : String(error),
      });
    }
  }

  async function handleBatch(events: RecordedEvent[], fence?: Fence) {
    // The processor hands over one event at a time.
    if (events.length === 1) return handleEvent(events[0]!, fence);
    const byTransfer = new Map<string, RecordedEvent[]>();
    for (const event of events) {
      const key = String(event.data.transferId ?? event.id);
      const ofTransfer = byTransfer.get(key);
      if (ofTransfer) ofTransfer.push(event);
      else byTransfer.set(key, [event]);
    }
    await inParallel([...byTransfer.values()], concurrency, async (ofOneTransfer) => {
      for (const event of ofOneTransfer) await handleEvent(event, fence);
    });
  }

  return {
    stop: () => stopping.abort(),
    handleBatch,
    observe(events) {
      for (const event of events)
        if (isSagaEvent(event) && 'accountId' in event.data)
          accounts.observe(String(event.data.accountId), event);
    },
    async retry(event) {
      if (!isSagaEvent(event)) throw new Error(`the saga does not handle ${event.type} events`);
      await settleTraced(event, String(event.data.transferId));
    },
    async fireDueDeadlines() {
      const now = clock.now();
      const due = await sagaStore.claimDue(now, 200, leaseMs);
      await inParallel(due, concurrency, async (transferId) => {
        const ctx = context(transferId, `deadline:${transferId}`);
        try {
          // Up to two rounds: the void, then what the source recorded (the void, or a debit before it).
          for (let round = 0; round < 2; round++) {
            let sent = 0;
            await reactUntilSettled(transferId, async () => {
              const { state } = await transfers.load(transferId);
              const source =
                state.status === 'None'
                  ? undefined
                  : (await accounts.load(state.details.fromAccountId)).state;
              const commands = onDeadline(
                state,
                source?.status === 'Unopened' ? undefined : source?.legs.get(transferId),
                now,
              );
              for (const command of commands) await execute(command, ctx);
              sent = commands.length;
            });
            if (sent === 0) break;
          }
          // Past its pivot, or ended: done. Still before it means not yet due by its own deadline
          // (or the source's answer is the saga's to act on): the lease brings it back.
          const { state } = await transfers.load(transferId);
          if (state.status !== 'Requested' && state.status !== 'CreditHeld')
            await sagaStore.cancel(transferId);
        } catch (error) {
          logger.warn(
            { correlationId: transferId, err: error },
            'deadline not fired; it is retried when its lease ends',
          );
        }
      });
      return due.length;
    },
  };
}

/** How many partitions the saga's work is split into: enough for a handful of instances to share. */
export const SAGA_PARTITIONS = 16;

/**
 * The saga's processor (SPEC §3): saga events keyed by transfer id, so one transfer's events and
 * the account events it causes stay in order in one partition, leased among the instances.
 */
export function startTransferSagaProcessor(
  coordinator: TransferSagaCoordinator,
  options: {
    store: EventStore;
    leases: PartitionLeases;
    owner: string;
    logger: AppLogger;
    name?: string;
    partitions?: number;
    timing?: LeaseTiming;
  },
) {
  return startPartitionedProcessor({
    name: options.name ?? 'transfer-saga',
    partitions: options.partitions ?? SAGA_PARTITIONS,
    store: options.store,
    leases: options.leases,
    owner: options.owner,
    logger: options.logger,
    eventTypes: SAGA_EVENT_TYPES,
    keyOf: (event) => String(event.data.transferId ?? event.id),
    handle: (events, fence) => coordinator.handleBatch(events, fence),
    observe: (events) => coordinator.observe(events),
    ...(options.timing ? { timing: options.timing } : {}),
  });
}
