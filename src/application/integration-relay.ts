import { type IntegrationEvent, PUBLISHED_EVENT_TYPES, toIntegrationEvent } from './integration-events.ts';
import type { EventPublisher, PublisherSession } from './ports/event-publisher.ts';
import type { EventStore, RecordedEvent, Subscription } from './ports/event-store.ts';
import type { AppLogger } from './ports/logger.ts';
import type { Fence } from './processor.ts';
import { backoff, keepRunning } from './retry.ts';

export type RelayStatus = {
  /**
   * `connected`: a broker session is open and the relay follows the log; `standby`: not started
   * here (another instance holds the relay's lease); otherwise it is (re)connecting.
   */
  state: 'standby' | 'connecting' | 'connected' | 'failing';
  target: string;
  /** Why the last attempt failed, while not connected. */
  error?: string;
  /** Consecutive failed attempts. */
  failures: number;
  /** Events handed to the broker, and events the broker confirmed (since this process started). */
  published: number;
  confirmed: number;
};

export type IntegrationRelay = {
  /**
   * Connects and follows the log from the checkpoint; reconnects with backoff after any failure.
   * `fence` is checked before each batch is published: once the lease is lost, nothing more goes out.
   */
  start(fence?: Fence): void;
  stop(): Promise<void>;
  status(): RelayStatus;
  /** The log position up to which every public event is confirmed by the broker. */
  checkpoint(): Promise<number>;
};

/** Resolves when `signal` aborts; `dispose` stops listening. */
function whenAborted(signal: AbortSignal) {
  let dispose = () => {};
  const aborted = new Promise<void>((resolve) => {
    const done = () => resolve();
    signal.addEventListener('abort', done, { once: true });
    dispose = () => signal.removeEventListener('abort', done);
    if (signal.aborted) resolve();
  });
  return { aborted, dispose };
}

/**
 * The first event of each stream of the batch, which holds what the public events repeat (see
 * toIntegrationEvent): taken from the batch when it is there, else read through the port. A
 * stream's first event never changes, so reading it is right whatever the checkpoint; the
 * PostgreSQL store gathers the concurrent reads into one statement.
 */
async function openingsOf(store: EventStore, events: readonly RecordedEvent[]) {
  const openings = new Map<string, RecordedEvent>();
  for (const event of events) if (event.revision === 0) openings.set(event.streamName, event);
  const missing = [...new Set(events.map((event) => event.streamName))].filter((name) => !openings.has(name));
  const read = await Promise.all(missing.map((name) => store.readStream(name, { maxCount: 1 })));
  for (const [first] of read) if (first) openings.set(first.streamName, first);
  return openings;
}

/**
 * The integration relay (SPEC §10): follows the log through a checkpointed subscription, like the
 * saga coordinator, turns each batch into public events and publishes them in log order. The
 * store moves the checkpoint only after the handler returns, and the handler returns only once
 * the broker confirmed the whole batch: at-least-once delivery, and a batch cut short by a lost
 * connection or a crash is published again (same ids) from the checkpoint.
 */
export function createIntegrationRelay(deps: {
  store: EventStore;
  publisher: EventPublisher;
  logger: AppLogger;
  /** Durable subscription name. */
  checkpointName?: string;
  batchSize?: number;
  /** Backoff between attempts: `minBackoffMs` doubled per consecutive failure, at most `maxBackoffMs`. */
  minBackoffMs?: number;
  maxBackoffMs?: number;
}): IntegrationRelay {
  const { store, publisher, logger } = deps;
  const checkpoint = deps.checkpointName ?? 'integration-relay';
  const minBackoffMs = deps.minBackoffMs ?? 200;
  const maxBackoffMs = deps.maxBackoffMs ?? 15_000;
  const status: RelayStatus = {
    state: 'standby',
    target: publisher.target,
    failures: 0,
    published: 0,
    confirmed: 0,
  };
  let stopping = new AbortController();
  let running: Promise<void> | undefined;
  let fence: Fence | undefined;

  async function publishBatch(session: PublisherSession, events: RecordedEvent[]) {
    fence?.assert();
    const openings = await openingsOf(store, events);
    const outgoing: IntegrationEvent[] = [];
    for (const event of events) {
      const opening = openings.get(event.streamName);
      if (!opening) throw new Error(`${event.streamName} has no first event`);
      const integration = toIntegrationEvent(event, opening);
      if (integration) outgoing.push(integration);
    }
    status.published += outgoing.length;
    await session.publish(outgoing);
    status.confirmed += outgoing.length;
  }

  /** One session: connect, then follow the log until the connection or the subscription fails. */
  async function relayOnce(progress: () => void) {
    const session = await publisher.connect();
    progress();
    let subscription: Subscription | undefined;
    const stopped = whenAborted(stopping.signal);
    try {
      if (stopping.signal.aborted) return;
      if (status.failures > 0) logger.info({ target: status.target }, 'integration relay reconnected');
      Object.assign(status, { state: 'connected', failures: 0, error: undefined });
      subscription = store.subscribe({
        checkpoint,
        batchSize: deps.batchSize ?? 500,
        eventTypes: PUBLISHED_EVENT_TYPES,
        handle: (events) => publishBatch(session, events),
      });
      await Promise.race([subscription.done, session.lost, stopped.aborted]);
    } finally {
      stopped.dispose();
      await subscription?.stop();
      await session.close();
    }
  }

  async function runForever() {
    await keepRunning(
      async (progress) => {
        await relayOnce(progress);
        // Ended without a stop from us: the store was closed under it, so there is nothing to follow.
        if (!stopping.signal.aborted) logger.info({}, 'integration relay stopped: its subscription ended');
      },
      { retryOn: () => true, delayMs: backoff({ initialMs: minBackoffMs, maxMs: maxBackoffMs }) },
      {
        signal: stopping.signal,
        onFailure: (error, failures, retryInMs) => {
          const message = error instanceof Error ? error.message : String(error);
          // One error line per outage (or change of cause), then quieter retries.
          const level = failures === 1 || message !== status.error ? 'error' : 'debug';
          logger[level](
            { target: status.target, err: message, failures, retryInMs },
            'integration relay cannot publish; retrying from its checkpoint',
          );
          Object.assign(status, { state: 'failing', error: message, failures });
        },
      },
    );
  }

  return {
    start(withFence) {
      if (stopping.signal.aborted) stopping = new AbortController();
      fence = withFence;
      if (!running) status.state = 'connecting';
      running ??= runForever();
    },
    async stop() {
      stopping.abort();
      await running;
      running = undefined;
      status.state = 'standby';
    },
    status: () => ({ ...status }),
    checkpoint: async () => (await store.readCheckpoint(checkpoint)) ?? 0,
  };
}
