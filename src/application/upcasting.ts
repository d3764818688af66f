import type { EventMetadata } from './ports/event-store.ts';

/**
 * One step of an event type's schema: turns the data of version `from` into the data of version
 * `from + 1`. Pure and total: it sees only the stored event (its data and metadata), never the
 * clock, configuration or other events, so a replay in ten years gives what it gives today.
 */
export type Upcaster = {
  from: number;
  /** What changed and why, for the next reader. */
  description: string;
  /**
   * The data fields this step adds, renames or reshapes. The PostgreSQL projections read the
   * events table's JSON in SQL, past this code: a unit test checks they read none of these.
   */
  touches: readonly string[];
  up(data: Readonly<Record<string, unknown>>, metadata: Readonly<EventMetadata>): Record<string, unknown>;
};

/** The upcasters of every event type, each chain in version order (v1→v2, v2→v3, ...). */
export type UpcasterChains = Readonly<Record<string, readonly Upcaster[]>>;

/** An event as stored or read: its data and the schema version in its metadata. */
type Versioned = { type: string; data: Record<string, unknown>; metadata: EventMetadata };

/** The deadline every transfer had before TransferRequested carried its own (TRANSFER_DEADLINE_MS's default then). */
const V1_DEADLINE_MS = 30_000;

/**
 * esbank's event schemas: to change an event's shape, add a step to its chain here (see README,
 * "Changing an event's shape"). Types without a chain are at version 1.
 */
export const EVENT_UPCASTERS: UpcasterChains = {
  TransferRequested: [
    {
      from: 1,
      description:
        'v2 carries the deadline (deadlineAt). A v1 transfer had the fixed 30-second deadline of its time, counted from its request (metadata.occurredAt).',
      touches: ['deadlineAt'],
      up: (data, metadata) => ({
        ...data,
        // Written by the code before v2 was stamped, a v1 event may already carry it: kept as it is.
        deadlineAt:
          data.deadlineAt ?? new Date(Date.parse(metadata.occurredAt) + V1_DEADLINE_MS).toISOString(),
      }),
    },
  ],
};

/**
 * Brings stored events to the current schema of their type, through the chain of upcasters from
 * the schema version in their metadata. Every read path goes through `upcast`: the event store
 * adapters apply it to what they return, so aggregates, the saga, projections fed through the
 * store, replay, verify and the CLI see one shape per type; writers stamp `currentVersion`.
 */
export function createUpcasting(chains: UpcasterChains) {
  const current = new Map<string, number>();
  for (const [type, chain] of Object.entries(chains)) {
    chain.forEach((step, index) => {
      if (step.from !== index + 1) throw new Error(`${type}: upcaster ${index + 1} starts at v${step.from}`);
    });
    current.set(type, chain.length + 1);
  }
  return {
    /** The version writers stamp on a new event of `type` (metadata.schemaVersion). */
    currentVersion: (type: string): number => current.get(type) ?? 1,
    /** The event at its type's current version; the same object when it already is. */
    upcast<Event extends Versioned>(event: Event): Event {
      const chain = chains[event.type];
      const stored = event.metadata?.schemaVersion ?? 1; // an event written without metadata is v1
      if (!chain || stored > chain.length) return event;
      let data = event.data;
      for (const step of chain.slice(Math.max(0, stored - 1))) data = step.up(data, event.metadata);
      return { ...event, data, metadata: { ...event.metadata, schemaVersion: chain.length + 1 } };
    },
  };
}

export const { currentVersion, upcast } = createUpcasting(EVENT_UPCASTERS);
