import type { Message } from '../domain/decider.ts';
import { DomainError } from '../domain/errors.ts';
import {
  type CommandContext,
  type CommandHandler,
  type Handled,
  type Loaded,
  nextRevision,
} from './command-handler.ts';
import type { RecordedEvent } from './ports/event-store.ts';

/**
 * An aggregate repository: the command handler, with the last known state of recent aggregates
 * kept in this process (least recently used go first; `size` 0 keeps none).
 *
 * The cache's contract, written once:
 * - A cached state is only a starting point. A load reads the events after it; a command decided
 *   on it is appended with its revision as the expectation, so a stale cache (another instance
 *   wrote) costs a conflict and a reload, never a wrong decision.
 * - A decision that would change nothing, or refuse the command, is believed only after a fresh
 *   load: the cache may simply not know yet.
 * - `lastKnown` returns the cached state without a read: only for checks that are made again
 *   where they count (an account's owner and existence never change once it is opened).
 * - Commands for one aggregate run one after another in this process.
 * - `observe` moves a cached state on by the events other processes append, as the log shows them.
 * It pays: bench:api went from 75 to 520–690 completed transfers/s with the repository cache and
 * the statement batching (README, "Benchmarks"): a saga step reads nothing but its own tail.
 */
export function withStateCache<Command, Event extends Message, State>(
  handler: CommandHandler<Command, Event, State>,
  size: number,
) {
  const cache = new Map<string, Loaded<State>>();
  const lanes = new Map<string, Promise<unknown>>();

  /** Keeps the newest state seen for `id`, most recently used last; returns what it was given. */
  function remember<Seen extends Loaded<State>>(id: string, seen: Seen): Seen {
    if (size <= 0 || seen.revision === 'no_stream') return seen;
    const known = cache.get(id);
    cache.delete(id);
    const newer = known && known.revision !== 'no_stream' && known.revision > seen.revision;
    cache.set(id, newer ? known : { state: seen.state, revision: seen.revision });
    if (cache.size > size) cache.delete(cache.keys().next().value as string);
    return seen;
  }

  const load = async (id: string) => remember(id, await handler.load(id, cache.get(id)));

  /**
   * An event of `id`'s stream met in the log, maybe written by another process: the cached state
   * moves on when it is the stream's next event (a stream's first one starts an entry). Without
   * it, an aggregate that several instances write is stale here after each of the others' writes,
   * and the next command here costs a conflict and a reload. Anything else (an event already
   * known, or one after a gap) changes nothing: a load reads what the cache lacks, as ever.
   */
  function observe(id: string, event: RecordedEvent) {
    if (size <= 0 || event.streamName !== handler.streamName(id)) return;
    const known = cache.get(id) ?? (event.revision === 0 ? handler.initial() : undefined);
    if (known && event.revision === nextRevision(known)) remember(id, handler.fold(known, [event]));
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

  async function handle(
    id: string,
    command: Command,
    context: CommandContext,
    { expectNew = false }: { expectNew?: boolean } = {},
  ): Promise<Handled<Event, State>> {
    // `expectNew`: the id was just made up, so the stream is assumed empty instead of read.
    const guess = cache.get(id) ?? (expectNew ? handler.initial() : undefined);
    if (guess) {
      try {
        const handled = await handler.handle(id, command, context, { first: guess, load });
        if (handled.position !== null) return remember(id, handled);
      } catch (error) {
        if (!(error instanceof DomainError)) throw error;
      }
    }
    return remember(id, await handler.handle(id, command, context, { first: await load(id), load }));
  }

  return {
    /** The current state: the cached (or snapshotted) state plus the events after it, read now. */
    load,
    observe,
    /** The last state this process knows, without a read when it has one (see the contract above). */
    lastKnown: async (id: string): Promise<Loaded<State>> => cache.get(id) ?? load(id),
    /** Decides and appends, retrying on conflicts; see the contract above. */
    handle: (id: string, command: Command, context: CommandContext, options?: { expectNew?: boolean }) =>
      inLane(id, () => handle(id, command, context, options)),
  };
}
