import type { CommandContext } from '../application/aggregate-repository.ts';
import type { AccountRepository, TransferRepository } from '../application/banking-service.ts';
import type { Clock } from '../application/ports/clock.ts';
import {
  type EventStore,
  type RecordedEvent,
  type Subscription,
  WrongExpectedRevisionError,
} from '../application/ports/event-store.ts';
import type { AppLogger } from '../application/ports/logger.ts';
import type { SagaStore } from '../application/ports/saga-store.ts';
import { backoff, isTransient, keepRunning, type RetryPolicy, retry } from '../application/retry.ts';
import { inEventSpan } from '../application/tracing.ts';
import { DomainError } from '../domain/errors.ts';
import {
  isSagaEvent,
  onDeadline,
  react,
  SAGA_EVENT_TYPES,
  type SagaCommand,
  type SagaEvent,
  type SagaReaction,
} from './transfer-saga.ts';

export type TransferSagaCoordinatorDeps = {
  store: EventStore;
  sagaStore: SagaStore;
  accounts: AccountRepository;
  transfers: TransferRepository;
  clock: Clock;
  logger: AppLogger;
  /** Durable subscription name; instances sharing it share the checkpoint. */
  checkpointName?: string;
  batchSize?: number;
  /** How many transfers of one batch are worked on at once (events of one transfer stay in order). */
  concurrency?: number;
  deadlineLeaseMs?: number;
  /** Retries of a transient failure (store down) before the subscription restarts from its checkpoint. */
  transientAttempts?: number;
};

export type TransferSagaCoordinator = {
  /** Subscribes to the log from the checkpoint; restarts itself with backoff after a failure. */
  start(): void;
  stop(): Promise<void>;
  /** Handles a batch as the subscription would (tests drive redelivery with it). */
  handleBatch(events: RecordedEvent[]): Promise<void>;
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

/** Runs `work` over `items` with at most `limit` in flight. */
async function inParallel<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await work(items[next++]!);
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}

/** A step that raced another (a deadline, another instance): react again on the transfer as it is now. */
const RACES: RetryPolicy = { attempts: 20, delayMs: () => 0, retryOn: isRace };
/** An event that keeps failing for another reason is tried this often before it is parked. */
const POISON: RetryPolicy = { attempts: 3, delayMs: () => 0, retryOn: (error) => !isTransient(error) };

/**
 * TransferSagaCoordinator (SPEC §3): reads the log through a checkpointed subscription, and for
 * each saga event loads the transfer, asks the pure `react` what to do, and sends the commands.
 * Every command is idempotent in its aggregate, so redelivery after a crash, duplicates and several
 * instances change nothing; the checkpoint moves only after a batch is fully handled.
 */
export function createTransferSagaCoordinator(deps: TransferSagaCoordinatorDeps): TransferSagaCoordinator {
  const { store, sagaStore, accounts, transfers, clock, logger } = deps;
  const checkpoint = deps.checkpointName ?? 'transfer-saga';
  const concurrency = deps.concurrency ?? 256;
  const leaseMs = deps.deadlineLeaseMs ?? 30_000;
  let subscription: Subscription | undefined;
  let running: Promise<void> | undefined;
  let stopping = new AbortController();

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

  async function apply(reaction: SagaReaction, ctx: CommandContext) {
    for (const deadline of reaction.deadlines) {
      if (deadline.type === 'schedule')
        await sagaStore.schedule(deadline.transferId, new Date(deadline.dueAt));
      else await sagaStore.cancel(deadline.transferId);
    }
    for (const command of reaction.commands) await execute(command, ctx);
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
   * answer is only taken from the transfer read afresh.
   */
  async function reactTo(event: SagaEvent, transferId: string): Promise<SagaReaction> {
    const known = react(event, (await transfers.lastKnown(transferId)).state, clock.now());
    if (known.commands.length > 0 || known.deadlines.length > 0) return known;
    return react(event, (await transfers.load(transferId)).state, clock.now());
  }

  /** The saga's handling of one event, until it settles; throws what it cannot handle. */
  async function settle(event: SagaEvent & RecordedEvent, transferId: string) {
    const ctx = context(transferId, event.id);
    await reactUntilSettled(transferId, async () => apply(await reactTo(event, transferId), ctx));
  }

  /** `settle` in a span that continues the trace the event was written in (src/application/tracing.ts). */
  const settleTraced = (event: SagaEvent & RecordedEvent, transferId: string) =>
    inEventSpan(
      event.metadata,
      `saga ${event.type}`,
      { 'esbank.transfer_id': transferId, 'esbank.event_id': event.id },
      () => settle(event, transferId),
    );

  async function handleEvent(event: RecordedEvent) {
    if (!isSagaEvent(event)) return;
    const transferId = String(event.data.transferId);
    try {
      await retry(() => settleTraced(event, transferId), POISON);
    } catch (error) {
      if (isTransient(error)) throw error; // the subscription restarts from its checkpoint
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

  async function handleBatch(events: RecordedEvent[]) {
    const byTransfer = new Map<string, RecordedEvent[]>();
    for (const event of events) {
      const key = String(event.data.transferId ?? event.id);
      byTransfer.set(key, [...(byTransfer.get(key) ?? []), event]);
    }
    await inParallel([...byTransfer.values()], concurrency, async (ofOneTransfer) => {
      for (const event of ofOneTransfer) await handleEvent(event);
    });
  }

  const runForever = () =>
    keepRunning(
      async (progress) => {
        subscription = store.subscribe({
          checkpoint,
          batchSize: deps.batchSize ?? 500,
          eventTypes: SAGA_EVENT_TYPES,
          handle: async (events) => {
            await handleBatch(events);
            progress();
          },
        });
        await subscription.done;
      },
      { retryOn: () => true, delayMs: backoff({ initialMs: 200, maxMs: 10_000 }) },
      {
        signal: stopping.signal,
        onFailure: (error, failures) =>
          logger.warn({ err: error, failures }, 'saga subscription failed; restarting from its checkpoint'),
      },
    );

  return {
    start() {
      if (stopping.signal.aborted) stopping = new AbortController();
      running ??= runForever();
    },
    async stop() {
      stopping.abort();
      await subscription?.stop();
      await running;
      running = undefined;
    },
    handleBatch,
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
                source?.status === 'Unopened' ? undefined : source?.legs[transferId],
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
