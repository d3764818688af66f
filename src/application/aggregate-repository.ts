import type { Decider, Message } from '../domain/decider.ts';
import { type EventMetadata, type EventStore, WrongExpectedRevisionError } from './ports/event-store.ts';
import type { IdGenerator } from './ports/ids.ts';
import { traceMetadata } from './tracing.ts';
import { currentVersion } from './upcasting.ts';

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
  /** The current state: the cached or snapshotted state plus the events after it, read now. */
  load(id: string): Promise<Loaded<State>>;
  /**
   * The last state this process knows, without a read when it has one: it may trail the store
   * (another instance wrote). Only for decisions that are checked again before they count.
   */
  recall(id: string): Promise<Loaded<State>>;
  /**
   * Decides and appends with the state's revision as the expectation; a concurrent writer makes it
   * reload and decide again, so no command is lost to a version conflict. Commands for one id run
   * one after another in this process. `expectNew`: the id was just made up, so the stream is
   * assumed empty instead of read (a wrong guess costs a conflict and a reload, nothing else).
   */
  handle(
    id: string,
    command: Command,
    context: CommandContext,
    options?: { expectNew?: boolean },
  ): Promise<Handled<Event, State>>;
};

export type RepositoryOptions<Command, Event, State> = {
  store: EventStore;
  decider: Decider<Command, Event, State>;
  streamName: (id: string) => string;
  ids: IdGenerator;
  /** Write a snapshot each time the stream passes a multiple of this many events. */
  snapshotEvery: number;
  maxAttempts?: number;
  /** How many aggregates keep their last known state in memory (least recently used go first); 0: none. */
  cacheSize?: number;
  /** Called when a snapshot write fails; the event log stays the source of truth. */
  onSnapshotError?: (error: unknown) => void;
};

type Known<State> = { state: State; revision: number };

/**
 * Load, decide, append (SPEC §2), with the last known state of recent aggregates kept in memory.
 * A cached state is only a starting point: a load reads the events after it, and a command decided
 * on it is appended with its revision as the expectation, so a stale cache costs a conflict and a
 * reload, never a wrong decision. A decision that would change nothing or refuse the command is
 * checked against a fresh load before it is believed (the cache may simply not know yet).
 */
export function createAggregateRepository<Command, Event extends Message, State>(
  options: RepositoryOptions<Command, Event, State>,
): AggregateRepository<Command, Event, State> {
  const { store, decider, streamName, ids, snapshotEvery, maxAttempts = 20, cacheSize = 10_000 } = options;
  const cache = new Map<string, Known<State>>();
  const lanes = new Map<string, Promise<unknown>>();

  /** Keeps the newest state seen for `id`, most recently used last. */
  function remember(id: string, loaded: Loaded<State>) {
    if (cacheSize <= 0 || loaded.revision === 'no_stream') return;
    const known = cache.get(id);
    cache.delete(id);
    cache.set(
      id,
      known && known.revision > loaded.revision ? known : { state: loaded.state, revision: loaded.revision },
    );
    if (cache.size > cacheSize) cache.delete(cache.keys().next().value as string);
  }

  async function startingPoint(stream: string, id: string): Promise<Loaded<State>> {
    const known = cache.get(id);
    if (known) return known;
    const snapshot = await store.readSnapshot(stream);
    return snapshot !== null && snapshot.schemaVersion === decider.snapshotSchemaVersion
      ? { state: snapshot.state as State, revision: snapshot.revision }
      : { state: decider.initialState(), revision: 'no_stream' };
  }

  async function load(id: string): Promise<Loaded<State>> {
    const stream = streamName(id);
    let { state, revision } = await startingPoint(stream, id);
    const tail = await store.readStream(stream, {
      fromRevision: revision === 'no_stream' ? 0 : revision + 1,
    });
    for (const event of tail) {
      state = decider.evolve(state, { type: event.type, data: event.data } as unknown as Event);
      revision = event.revision;
    }
    const loaded = { state, revision };
    remember(id, loaded);
    return loaded;
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

  async function decideAndAppend(
    id: string,
    command: Command,
    context: CommandContext,
    expectNew: boolean,
  ): Promise<Handled<Event, State>> {
    // Where to decide from, and whether it was read from the store during this call.
    let from: Loaded<State> | undefined =
      cache.get(id) ?? (expectNew ? { state: decider.initialState(), revision: 'no_stream' } : undefined);
    for (let attempt = 1; ; attempt++) {
      const fresh = from === undefined;
      const loaded = from ?? (await load(id));
      from = undefined;
      let events: Event[];
      try {
        events = decider.decide(command, loaded.state);
      } catch (error) {
        if (fresh) throw error;
        continue;
      }
      if (events.length === 0) {
        if (fresh) return { ...loaded, events, position: null };
        continue;
      }
      try {
        const result = await store.append(
          streamName(id),
          events.map((event) => ({
            id: ids.newId(),
            type: event.type,
            data: event.data as Record<string, unknown>,
            metadata: { ...context, schemaVersion: currentVersion(event.type), ...traceMetadata() },
          })),
          loaded.revision,
        );
        const state = events.reduce(decider.evolve, loaded.state);
        const handled = { state, revision: result.nextExpectedRevision, events, position: result.position };
        remember(id, handled);
        await snapshotIfDue(id, loaded.revision, handled);
        return handled;
      } catch (error) {
        if (!(error instanceof WrongExpectedRevisionError) || attempt >= maxAttempts) throw error;
        // Another process wrote first; an immediate reload usually sees it, so back off only on repeats.
        if (attempt > 1) {
          await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(50, 2 ** attempt)));
        }
      }
    }
  }

  /** Runs `work` after every earlier command for `id` in this process has settled. */
  function inLane<T>(id: string, work: () => Promise<T>): Promise<T> {
    const result = (lanes.get(id) ?? Promise.resolve()).then(work, work);
    const settled = result.then(
      () => {},
      () => {},
    );
    lanes.set(id, settled);
    void settled.then(() => {
      if (lanes.get(id) === settled) lanes.delete(id);
    });
    return result;
  }

  return {
    load,
    recall: async (id) => cache.get(id) ?? load(id),
    handle: (id, command, context, { expectNew = false } = {}) =>
      inLane(id, () => decideAndAppend(id, command, context, expectNew)),
  };
}
