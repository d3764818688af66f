import type { Clock } from './ports/clock.ts';
import type { EventStore, RecordedEvent } from './ports/event-store.ts';
import type { ParkedEvent, SagaStore } from './ports/saga-store.ts';

/** A parked event an operator named cannot be acted on: unknown, already resolved, or a retry failed. */
export class ParkedEventError extends Error {
  override readonly name = 'ParkedEventError';

  constructor(
    readonly code: 'NOT_PARKED' | 'ALREADY_RESOLVED' | 'NOT_IN_LOG' | 'RETRY_FAILED',
    message: string,
  ) {
    super(message);
  }
}

export type ParkedEventsDeps = {
  store: EventStore;
  sagaStore: SagaStore;
  clock: Clock;
  /** The handler that parked the event, run once more (the saga coordinator's `retry`). */
  handle: (event: RecordedEvent) => Promise<void>;
};

/**
 * What an operator does with the events the saga parked (SPEC §7, `esbank parked`): list them,
 * retry one (its handler runs again on the event as the log holds it, after a fix), or discard
 * one. Every retry and discard is written to the event's audit trail with who did it.
 */
export function createParkedEvents({ store, sagaStore, clock, handle }: ParkedEventsDeps) {
  async function waiting(eventId: string): Promise<ParkedEvent> {
    const parked = await sagaStore.parkedEvent(eventId);
    if (!parked) throw new ParkedEventError('NOT_PARKED', `event ${eventId} is not parked`);
    if (parked.resolution) {
      const { action, by, at } = parked.resolution;
      throw new ParkedEventError('ALREADY_RESOLVED', `event ${eventId} was ${action} by ${by} at ${at}`);
    }
    return parked;
  }

  async function resolve(
    eventId: string,
    action: 'retried' | 'discarded',
    actor: string,
    detail: string | null,
  ) {
    if (!(await sagaStore.recordParkedAction(eventId, { action, actor, detail, at: clock.now() })))
      await waiting(eventId); // someone resolved it meanwhile: say who
    return (await sagaStore.parkedEvent(eventId))!;
  }

  return {
    list: (options?: { includeResolved?: boolean }) => sagaStore.parked(options),
    show: (eventId: string) => sagaStore.parkedEvent(eventId),
    count: () => sagaStore.countParked(),

    /** Runs the handler again; on success the event is resolved as retried, else the failure is recorded and thrown. */
    async retry(eventId: string, actor: string) {
      const parked = await waiting(eventId);
      const [event] = await store.readAll({ after: parked.position - 1, batchSize: 1 });
      if (event?.id !== eventId)
        throw new ParkedEventError(
          'NOT_IN_LOG',
          `event ${eventId} is not at position ${parked.position} of the log`,
        );
      try {
        await handle(event);
      } catch (error) {
        const detail = error instanceof Error ? error.message : String(error);
        await sagaStore.recordParkedAction(eventId, {
          action: 'retry-failed',
          actor,
          detail,
          at: clock.now(),
        });
        throw new ParkedEventError('RETRY_FAILED', `retrying event ${eventId} failed again: ${detail}`);
      }
      return resolve(eventId, 'retried', actor, null);
    },

    /** Gives up on the event: the saga will not handle it; who did it and why stay on record. */
    async discard(eventId: string, actor: string, reason: string | null) {
      await waiting(eventId);
      return resolve(eventId, 'discarded', actor, reason);
    },
  };
}
export type ParkedEvents = ReturnType<typeof createParkedEvents>;
