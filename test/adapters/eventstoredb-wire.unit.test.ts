import { describe, expect, it } from 'vitest';
import { createEventStoreDBStore } from '../../src/adapters/eventstoredb/event-store.ts';
import { waitUntil } from '../contract/event-store.contract.ts';
import { createStubClient, newEvent } from './eventstoredb-stub-client.ts';

/**
 * How many events cross the wire (the stub counts what each client call hands to the adapter) for
 * each port call, on a log of 1,000 application events, one in ten a TransferRequested, topped by
 * what a running service leaves there: a checkpoint write per subscriber and a `$stats` event.
 * `npx vitest run test/adapters/eventstoredb-wire` prints the table.
 */
describe('EventStoreDB adapter: events on the wire per call', () => {
  it('measures each call', async () => {
    const stub = createStubClient();
    const store = createEventStoreDBStore(stub.client);
    for (let i = 0; i < 1_000; i++)
      stub.write(`account-${i}`, i % 10 === 0 ? 'TransferRequested' : 'CashDeposited');
    await store.storeCheckpoint('saga', 1);
    await store.storeCheckpoint('projections', 1);
    stub.write('$stats-127.0.0.1:2113', '$statsCollected');

    const rows: Record<string, { returned: number; onWire: number; calls: number }> = {};
    const measure = async (name: string, call: () => Promise<unknown>) => {
      stub.resetWire();
      const callsBefore = stub.calls.readAll;
      const result = await call();
      rows[name] = {
        returned: Array.isArray(result) ? result.length : 1,
        onWire: stub.wire.readAll + stub.wire.readStream + stub.wire.subscribeToAll,
        calls: stub.calls.readAll - callsBefore,
      };
    };
    await measure('headPosition()', () => store.headPosition());
    await measure('lastPosition()', () => store.lastPosition());
    await measure('readAll({ after: 0, batchSize: 500 })', () => store.readAll({ after: 0, batchSize: 500 }));
    await measure("readAll({ after: 0, batchSize: 100, eventTypes: ['TransferRequested'] })", () =>
      store.readAll({ after: 0, batchSize: 100, eventTypes: ['TransferRequested'] }),
    );

    const seen: number[] = [];
    const head = await store.headPosition();
    const subscription = store.subscribe({
      after: head,
      eventTypes: ['TransferRequested'],
      handle: async (events) => {
        seen.push(...events.map((event) => event.position));
      },
    });
    await waitUntil(() => stub.openSubscriptions().length === 1);
    stub.resetWire();
    for (let i = 0; i < 100; i++)
      stub.write(`account-${i}`, i % 10 === 0 ? 'TransferRequested' : 'CashDeposited');
    await waitUntil(() => seen.length === 10);
    rows["subscribe({ eventTypes: ['TransferRequested'] }), live, 100 new events"] = {
      returned: seen.length,
      onWire: stub.wire.subscribeToAll + stub.wire.readAll,
      calls: 0,
    };
    await subscription.stop();

    console.table(rows);
    // Before 10ce16a: 501 events each (one page of 500 + 1 back from the end of $all) and 501 for the
    // read from the start (it asked one extra event to skip). Now: a first page of 8, and no extra.
    expect(rows['headPosition()']).toEqual({ returned: 1, onWire: 8, calls: 1 });
    expect(rows['lastPosition()']).toEqual({ returned: 1, onWire: 8, calls: 1 });
    expect(rows['readAll({ after: 0, batchSize: 500 })']).toEqual({ returned: 500, onWire: 500, calls: 1 });
    // Client 6.2.1 cannot filter a read of $all on the server (readAll.js sends NoFilter): the
    // filter runs here, so ten pages of 100 (+1 each after the first) for 100 matching events.
    expect(rows["readAll({ after: 0, batchSize: 100, eventTypes: ['TransferRequested'] })"]!.returned).toBe(
      100,
    );
    expect(
      rows["readAll({ after: 0, batchSize: 100, eventTypes: ['TransferRequested'] })"]!.onWire,
    ).toBeLessThanOrEqual(1_009);
    expect(rows["subscribe({ eventTypes: ['TransferRequested'] }), live, 100 new events"]!.onWire).toBe(10);
  });

  it('still finds the head below many system and companion events, in growing pages', async () => {
    const stub = createStubClient();
    const store = createEventStoreDBStore(stub.client);
    const { position } = await store.append('account-1', [newEvent()], 'no_stream');
    stub.write('$stats-127.0.0.1:2113', '$statsCollected', 300);
    stub.resetWire();
    await expect(store.headPosition()).resolves.toBe(position);
    expect(stub.calls.readAll).toBe(3);
    // 8, then 64 and the rest below: each page after the first reads its cursor event again.
    expect(stub.wire.readAll).toBe(8 + (64 + 1) + (229 + 1));
  });
});
