import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from '../../src/adapters/memory/event-store.ts';
import type { EventMetadata, NewEvent } from '../../src/application/ports/event-store.ts';
import { createUpcasting, currentVersion, EVENT_UPCASTERS, upcast } from '../../src/application/upcasting.ts';

const metadata = (schemaVersion: number): EventMetadata => ({
  correlationId: 't',
  causationId: 'c',
  occurredAt: '2030-01-01T00:00:00.000Z',
  schemaVersion,
});

describe('upcasting', () => {
  const chains = createUpcasting({
    Renamed: [
      {
        from: 1,
        description: 'v2 names the payer',
        touches: ['payer'],
        up: ({ from, ...d }) => ({ ...d, payer: from }),
      },
      {
        from: 2,
        description: 'v3 amounts in cents',
        touches: ['cents'],
        up: ({ euros, ...d }) => ({ ...d, cents: Number(euros) * 100 }),
      },
    ],
  });

  it('runs the chain from the stored version to the current one, and stamps it', () => {
    const v1 = { type: 'Renamed', data: { from: 'a', euros: 2 }, metadata: metadata(1) };
    expect(chains.upcast(v1)).toEqual({
      type: 'Renamed',
      data: { payer: 'a', cents: 200 },
      metadata: metadata(3),
    });
    const v2 = { type: 'Renamed', data: { payer: 'b', euros: 1 }, metadata: metadata(2) };
    expect(chains.upcast(v2).data).toEqual({ payer: 'b', cents: 100 });
    expect(chains.currentVersion('Renamed')).toBe(3);
    expect(chains.currentVersion('Unchanged')).toBe(1);
  });

  it('returns an event already current, or of a type without a chain, as it is', () => {
    const current = { type: 'Renamed', data: { payer: 'a', cents: 1 }, metadata: metadata(3) };
    expect(chains.upcast(current)).toBe(current);
    const other = { type: 'Unchanged', data: {}, metadata: metadata(1) };
    expect(chains.upcast(other)).toBe(other);
  });

  it('refuses a chain with a gap', () => {
    expect(() =>
      createUpcasting({ Gap: [{ from: 2, description: '', touches: [], up: (d) => ({ ...d }) }] }),
    ).toThrow('Gap: upcaster 1 starts at v2');
  });

  it('TransferRequested v1 gets the deadline of its time: 30 s after the request; a deadline it carries stays', () => {
    expect(currentVersion('TransferRequested')).toBe(2);
    const v1 = { type: 'TransferRequested', data: { transferId: 't', amount: 5 }, metadata: metadata(1) };
    expect(upcast(v1)).toEqual({
      type: 'TransferRequested',
      data: { transferId: 't', amount: 5, deadlineAt: '2030-01-01T00:00:30.000Z' },
      metadata: metadata(2),
    });
    // Written by the code before v2 was stamped: already the new shape.
    const early = { ...v1, data: { ...v1.data, deadlineAt: '2030-01-01T00:01:00.000Z' } };
    expect(upcast(early).data.deadlineAt).toBe('2030-01-01T00:01:00.000Z');
  });

  it('the in-memory store returns upcast events from every read', async () => {
    const store = createInMemoryEventStore();
    const v1: NewEvent = {
      id: 'e1',
      type: 'TransferRequested',
      data: { transferId: 't' },
      metadata: metadata(1),
    };
    await store.append('transfer-t', [v1], 'no_stream');
    const deadline = '2030-01-01T00:00:30.000Z';
    expect((await store.readStream('transfer-t'))[0]!.data.deadlineAt).toBe(deadline);
    expect((await store.readAll({ after: 0 }))[0]!.data.deadlineAt).toBe(deadline);
    const seen = await new Promise((resolve) => {
      const subscription = store.subscribe({
        handle: async (events) => {
          resolve(events.map((e) => e.data.deadlineAt));
          setImmediate(() => void subscription.stop());
        },
      });
    });
    expect(seen).toEqual([deadline]);
  });

  it('no SQL projection reads a field an upcaster changes (they read the events table past the upcasters)', () => {
    const dir = 'src/adapters/postgres/projections/';
    const sql = readdirSync(dir)
      .map((file) => readFileSync(dir + file, 'utf8'))
      .join('\n');
    for (const chain of Object.values(EVENT_UPCASTERS))
      for (const field of chain.flatMap((step) => step.touches)) expect(sql).not.toContain(`'${field}'`);
  });
});
