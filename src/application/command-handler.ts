import { type Decider, type Message, snapshotStateOf, stateFromSnapshot } from '../domain/decider.ts';
import type { EventMetadata, EventStore, RecordedEvent } from './ports/event-store.ts';
import type { IdGenerator } from './ports/ids.ts';
import { isConflict, type RetryPolicy, retry } from './retry.ts';
import { traceMetadata } from './tracing.ts';
import { currentVersion } from './upcasting.ts';

/** Who asks and why: copied into every event's metadata. */
export type CommandContext = Omit<EventMetadata, 'schemaVersion'>;

export type Loaded<State> = {
  state: State;
  /** Revision of the last event folded in; 'no_stream' when the stream is empty. */
  revision: number | 'no_stream';
};

/** The revision the stream's next event gets after `loaded`. */
export const nextRevision = (loaded: Loaded<unknown>): number =>
  loaded.revision === 'no_stream' ? 0 : loaded.revision + 1;

export type Handled<Event, State> = Loaded<State> & {
  events: Event[];
  /** Global position of the last appended event; null when the command changed nothing. */
  position: number | null;
};

export type CommandHandlerOptions<Command, Event, State> = {
  store: EventStore;
  decider: Decider<Command, Event, State>;
  streamName: (id: string) => string;
  ids: IdGenerator;
  /** Write a snapshot each time the stream passes a multiple of this many events. */
  snapshotEvery: number;
  /** Tries of one command under version conflicts before the conflict propagates. */
  maxAttempts?: number;
  /** Called when a snapshot write fails; the event log stays the source of truth. */
  onSnapshotError?: (error: unknown) => void;
};

/** The domain event a stored event records. */
export const domainEvent = <Event>(event: RecordedEvent): Event =>
  ({ type: event.type, data: event.data }) as unknown as Event;

/**
 * The plain command handler (SPEC §2): load (latest snapshot + the events after it), decide,
 * append with the loaded revision as the expectation; a concurrent writer makes the append fail,
 * and the command is loaded and decided again. `handle`'s `first` is a state to decide on before
 * any read, and `load` how to read again after a conflict (a cache passes both: see state-cache.ts).
 */
export function createCommandHandler<Command, Event extends Message, State>(
  options: CommandHandlerOptions<Command, Event, State>,
) {
  const { store, decider, streamName, ids, snapshotEvery } = options;
  const conflicts: RetryPolicy = {
    attempts: options.maxAttempts ?? 20,
    // An immediate reload usually sees the other write; back off (with jitter) only on repeats.
    delayMs: (failures) => (failures === 1 ? 0 : Math.random() * Math.min(50, 2 ** failures)),
    retryOn: isConflict,
  };

  async function fromSnapshot(stream: string): Promise<Loaded<State>> {
    const snapshot = await store.readSnapshot(stream);
    return snapshot !== null && snapshot.schemaVersion === decider.snapshotSchemaVersion
      ? { state: stateFromSnapshot(decider, snapshot.state), revision: snapshot.revision }
      : { state: decider.initialState(), revision: 'no_stream' };
  }

  /** `from` with `events` (the stream's next ones, in order) folded in. */
  const fold = (from: Loaded<State>, events: readonly RecordedEvent[]): Loaded<State> =>
    events.reduce(
      (loaded, event) => ({
        state: decider.evolve(loaded.state, domainEvent<Event>(event)),
        revision: event.revision,
      }),
      from,
    );

  /** The state after the stream's events; from `from` (a state known to be a prefix of it) when given. */
  async function load(id: string, from?: Loaded<State>): Promise<Loaded<State>> {
    const stream = streamName(id);
    const start = from ?? (await fromSnapshot(stream));
    const tail = await store.readStream(stream, { fromRevision: nextRevision(start) });
    return fold(start, tail);
  }

  async function snapshotIfDue(id: string, before: Loaded<State>['revision'], after: Loaded<State>) {
    if (after.revision === 'no_stream' || snapshotEvery <= 0) return;
    const eventsBefore = before === 'no_stream' ? 0 : before + 1;
    if (Math.floor(eventsBefore / snapshotEvery) === Math.floor((after.revision + 1) / snapshotEvery)) return;
    const snapshot = {
      revision: after.revision,
      schemaVersion: decider.snapshotSchemaVersion,
      state: snapshotStateOf(decider, after.state),
    };
    await store.writeSnapshot(streamName(id), snapshot).catch((error) => options.onSnapshotError?.(error));
  }

  async function handle(
    id: string,
    command: Command,
    context: CommandContext,
    start: { first?: Loaded<State>; load?: (id: string) => Promise<Loaded<State>> } = {},
  ): Promise<Handled<Event, State>> {
    return retry(async (attempt) => {
      const loaded = attempt === 1 && start.first ? start.first : await (start.load ?? load)(id);
      const events = decider.decide(command, loaded.state);
      if (events.length === 0) return { ...loaded, events, position: null };
      const appended = events.map((event) => ({
        id: ids.newId(),
        type: event.type,
        data: event.data as Record<string, unknown>,
        metadata: { ...context, schemaVersion: currentVersion(event.type), ...traceMetadata() },
      }));
      const result = await store.append(streamName(id), appended, loaded.revision);
      const state = events.reduce(decider.evolve, loaded.state);
      const handled = { state, revision: result.nextExpectedRevision, events, position: result.position };
      await snapshotIfDue(id, loaded.revision, handled);
      return handled;
    }, conflicts);
  }

  return {
    load,
    handle,
    fold,
    streamName,
    initial: (): Loaded<State> => ({ state: decider.initialState(), revision: 'no_stream' }),
  };
}

export type CommandHandler<Command, Event extends Message, State> = ReturnType<
  typeof createCommandHandler<Command, Event, State>
>;
