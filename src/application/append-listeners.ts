import type { AppendResult, NewEvent, RecordedEvent } from './ports/event-store.ts';

type Listener = (events: readonly RecordedEvent[]) => void;

/**
 * The listeners behind a store's `onAppended` (ports/event-store.ts), for a store whose append
 * draws one append's positions in a row: its events sit just below the last one's position.
 */
export function appendListeners() {
  const listeners = new Set<Listener>();
  return {
    listen(listener: Listener): () => void {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    /** After `events` were appended to `streamName` and committed, the last of them at `result`. */
    emit(streamName: string, events: readonly NewEvent[], result: AppendResult): void {
      if (listeners.size === 0) return;
      const before = events.length - 1;
      const recorded = events.map((event, i) => ({
        ...event,
        streamName,
        revision: result.nextExpectedRevision - before + i,
        position: result.position - before + i,
      }));
      for (const listener of listeners) {
        try {
          listener(recorded);
        } catch {
          // Only a hint: the append has committed whatever a listener does with it.
        }
      }
    },
  };
}
