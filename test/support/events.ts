import type { NewEvent } from '../../src/application/ports/event-store.ts';

/** An event to append straight to a store in a test, with placeholder metadata. */
export const newEvent = (type: string, data: Record<string, unknown> = {}): NewEvent => ({
  id: crypto.randomUUID(),
  type,
  data,
  metadata: { correlationId: 'c', causationId: 'c', occurredAt: new Date().toISOString(), schemaVersion: 1 },
});
