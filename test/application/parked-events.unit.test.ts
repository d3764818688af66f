import { describe, expect, it } from 'vitest';
import { createInMemoryEventStore } from '../../src/adapters/memory/event-store.ts';
import { createInMemorySagaStore } from '../../src/adapters/memory/saga-store.ts';
import { createParkedEvents, ParkedEventError } from '../../src/application/parked-events.ts';
import type { RecordedEvent } from '../../src/application/ports/event-store.ts';
import { fakeClock } from '../support/saga.ts';

async function parkedOne(handle: (event: RecordedEvent) => Promise<void>) {
  const store = createInMemoryEventStore();
  const sagaStore = createInMemorySagaStore();
  const metadata = {
    correlationId: 't1',
    causationId: 'r1',
    occurredAt: '2030-01-01T00:00:00.000Z',
    schemaVersion: 1,
  };
  await store.append('other-1', [{ id: 'e0', type: 'Noise', data: {}, metadata }], 'no_stream');
  const { position } = await store.append(
    'transfer-t1',
    [{ id: 'e1', type: 'TransferRequested', data: { transferId: 't1' }, metadata }],
    'no_stream',
  );
  await sagaStore.park({
    eventId: 'e1',
    position,
    type: 'TransferRequested',
    correlationId: 't1',
    error: 'bug',
  });
  return { sagaStore, parked: createParkedEvents({ store, sagaStore, clock: fakeClock(), handle }) };
}

describe('parked events (the operator use case)', () => {
  it('a retry that fails again is on record and leaves the event parked; a later retry resolves it', async () => {
    let fixed = false;
    const handled: string[] = [];
    const { parked, sagaStore } = await parkedOne(async (event) => {
      if (!fixed) throw new Error('still broken');
      handled.push(event.id);
    });
    const failure = await parked.retry('e1', 'carol').catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(ParkedEventError);
    expect(failure).toMatchObject({
      code: 'RETRY_FAILED',
      message: 'retrying event e1 failed again: still broken',
    });
    expect(await sagaStore.countParked()).toBe(1);

    fixed = true;
    const retried = await parked.retry('e1', 'carol');
    expect(handled).toEqual(['e1']);
    expect(retried.resolution).toEqual({ action: 'retried', by: 'carol', at: '2030-01-01T00:00:00.000Z' });
    expect(retried.actions.map((a) => [a.action, a.detail])).toEqual([
      ['retry-failed', 'still broken'],
      ['retried', null],
    ]);
    expect(await parked.list()).toEqual([]);
    await expect(parked.discard('e1', 'dave', null)).rejects.toMatchObject({ code: 'ALREADY_RESOLVED' });
  });

  it('a discard runs nothing and records who and why', async () => {
    const { parked } = await parkedOne(() => Promise.reject(new Error('must not run')));
    const discarded = await parked.discard('e1', 'dave', 'duplicate of e0');
    expect(discarded.actions).toEqual([
      { action: 'discarded', actor: 'dave', detail: 'duplicate of e0', at: '2030-01-01T00:00:00.000Z' },
    ]);
    expect(await parked.list({ includeResolved: true })).toHaveLength(1);
    await expect(parked.retry('nope', 'dave')).rejects.toMatchObject({ code: 'NOT_PARKED' });
  });
});
