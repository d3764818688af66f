import { describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from '../../src/adapters/memory/event-store.ts';
import { createInMemorySagaStore } from '../../src/adapters/memory/saga-store.ts';
import { inEventSpan, traceMetadata } from '../../src/application/tracing.ts';
import { allEvents, createBank } from '../support/saga.ts';

describe('tracing without the OpenTelemetry SDK (OTEL_EXPORTER_OTLP_ENDPOINT unset)', () => {
  it('writes no trace field into events and makes no span', async () => {
    expect(traceMetadata()).toEqual({});
    let ran = false;
    await inEventSpan({}, 'saga X', {}, async () => {
      ran = true;
    });
    expect(ran).toBe(true);
    const store = createInMemoryEventStore();
    const bank = createBank(store, createInMemorySagaStore());
    await bank.openWith(10);
    for (const event of await allEvents(store))
      expect(Object.keys(event.metadata)).not.toContain('traceparent');
  });
});
