import type { Decider, Message } from '../domain/decider.ts';
import {
  type EventMetadata,
  type EventStore,
  type ExpectedRevision,
  WrongExpectedRevisionError,
} from './ports/event-store.ts';
import type { IdGenerator } from './ports/ids.ts';

/** Who asks and why: copied into every event's metadata. */
export type CommandContext = Omit<EventMetadata, 'schemaVersion'>;

export type Loaded<State> = {
  state: State;
  /** Revision of the last event folded in; 'no_stream' when the stream is empty. */
  revision: number | 'no_stream';
};

export type Handled<Event, State> = Loaded<State> & {
  events: Event[];
  /** Global position of the last appended event; null when the command changed nothing. */
  position: number | null;
};

export type AggregateRepository<Command, Event, State> = {
  load(id: string): Promise<Loaded<State>>;
  /**
   * Loads, decides and appends with the loaded revision as the expectation; a concurrent
   * writer makes it reload and decide again, so no command is lost to a version conflict.
   */
  handle(id: string, command: Command, context: CommandContext): Promise<Handled<Event, State>>;
};

export type RepositoryOptions<Command, Event, State> = {
  store: EventStore;
  decider: Decider<Command, Event, State>;
  streamName: (id: string) => string;
  ids: IdGenerator;
  /** Write a snapshot each time the stream passes a multiple of this many events. */
  snapshotEvery: number;
  maxAttempts?: number;
  /** Called when a snapshot write fails; the event log stays the source of truth. */
  onSnapshotError?: (error: unknown) => void;
};

export const EVENT_SCHEMA_VERSION = 1;

export function createAggregateRepository<Command, Event extends Message, State>(
  options: RepositoryOptions<Command, Event, State>,
): AggregateRepository<Command, Event, State> {
  const { store, decider, streamName, ids, snapshotEvery, maxAttempts = 20 } = options;

  async function load(id: string): Promise<Loaded<State>> {
    const stream = streamName(id);
    const snapshot = await store.readSnapshot(stream);
    const usable = snapshot !== null && snapshot.schemaVersion === decider.snapshotSchemaVersion;
    let state = usable ? (snapshot.state as State) : decider.initialState();
    let revision: number | 'no_stream' = usable ? snapshot.revision : 'no_stream';
    const tail = await store.readStream(stream, { fromRevision: usable ? snapshot.revision + 1 : 0 });
    for (const event of tail) {
      state = decider.evolve(state, { type: event.type, data: event.data } as unknown as Event);
      revision = event.revision;
    }
    return { state, revision };
  }

  async function snapshotIfDue(id: string, before: number | 'no_stream', after: Loaded<State>) {
    if (after.revision === 'no_stream' || snapshotEvery <= 0) return;
    const eventsBefore = before === 'no_stream' ? 0 : before + 1;
    if (Math.floor(eventsBefore / snapshotEvery) === Math.floor((after.revision + 1) / snapshotEvery)) return;
    try {
      await store.writeSnapshot(streamName(id), {
        revision: after.revision,
        schemaVersion: decider.snapshotSchemaVersion,
        state: after.state,
      });
    } catch (error) {
      options.onSnapshotError?.(error);
    }
  }

  async function handle(
    id: string,
    command: Command,
    context: CommandContext,
  ): Promise<Handled<Event, State>> {
    for (let attempt = 1; ; attempt++) {
      const loaded = await load(id);
      const events = decider.decide(command, loaded.state);
      if (events.length === 0) return { ...loaded, events, position: null };
      const expected: ExpectedRevision = loaded.revision;
      try {
        const result = await store.append(
          streamName(id),
          events.map((event) => ({
            id: ids.newId(),
            type: event.type,
            data: event.data as Record<string, unknown>,
            metadata: { ...context, schemaVersion: EVENT_SCHEMA_VERSION },
          })),
          expected,
        );
        const state = events.reduce(decider.evolve, loaded.state);
        const handled = { state, revision: result.nextExpectedRevision, events, position: result.position };
        await snapshotIfDue(id, loaded.revision, handled);
        return handled;
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= maxAttempts) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** attempt)));
      }
    }
  }

  return { load, handle };
}
