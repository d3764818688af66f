import { createServer } from 'node:net';
import { ANY, NO_STREAM, START, UnavailableError, WrongExpectedVersionError } from '@eventstore/db-client';
import { describe, expect, it } from 'vitest';
import { toStoreError } from '../../src/adapters/eventstoredb/errors.ts';
import { createEventStoreDBStore } from '../../src/adapters/eventstoredb/event-store.ts';
import {
  checkpointStreamName,
  isApplicationEvent,
  numberToPosition,
  positionToNumber,
  snapshotStreamName,
  toEsdbExpectedRevision,
} from '../../src/adapters/eventstoredb/records.ts';
import {
  EventStoreUnavailableError,
  WrongExpectedRevisionError,
} from '../../src/application/ports/event-store.ts';

/** A port on 127.0.0.1 that nothing listens on: bound once, then released. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

describe('EventStoreDB adapter, the parts that need no server', () => {
  it('maps global positions to commit = prepare positions and back; 0 is the start', () => {
    expect(numberToPosition(0)).toBe(START);
    expect(numberToPosition(1234)).toEqual({ commit: 1234n, prepare: 1234n });
    expect(positionToNumber({ commit: 987_654_321n, prepare: 987_654_321n })).toBe(987_654_321);
    expect(positionToNumber(numberToPosition(2 ** 40) as { commit: bigint; prepare: bigint })).toBe(2 ** 40);
  });

  it('maps expected revisions', () => {
    expect(toEsdbExpectedRevision('no_stream')).toBe(NO_STREAM);
    expect(toEsdbExpectedRevision('any')).toBe(ANY);
    expect(toEsdbExpectedRevision(0)).toBe(0n);
    expect(toEsdbExpectedRevision(41)).toBe(41n);
  });

  it('names companion streams and hides them, and system events, from readers', () => {
    expect(snapshotStreamName('account-1')).toBe('snapshot-account-1');
    expect(checkpointStreamName('saga')).toBe('checkpoint-saga');
    expect(isApplicationEvent('account-1', 'CashDeposited')).toBe(true);
    expect(isApplicationEvent('snapshot-account-1', 'SnapshotTaken')).toBe(false);
    expect(isApplicationEvent('checkpoint-saga', 'CheckpointStored')).toBe(false);
    expect(isApplicationEvent('$$account-1', '$metadata')).toBe(false);
    expect(isApplicationEvent('$stats-127.0.0.1:2113', '$statsCollected')).toBe(false);
    expect(isApplicationEvent('$ce-account', '$>')).toBe(false);
  });

  it('maps a version conflict to WrongExpectedRevisionError', () => {
    const conflict = (current: bigint | typeof NO_STREAM) =>
      toStoreError(
        new WrongExpectedVersionError(undefined, { streamName: 'account-1', expected: 3n, current }),
        'x',
        3,
      );
    expect(conflict(5n)).toEqual(new WrongExpectedRevisionError('account-1', 3, 5));
    expect(conflict(5n)).toBeInstanceOf(WrongExpectedRevisionError);
    expect(conflict(NO_STREAM)).toMatchObject({ streamName: 'account-1', expected: 3, actual: 'no_stream' });
  });

  it('maps an unreachable server to EventStoreUnavailableError, and passes other errors through', () => {
    expect(toStoreError(new UnavailableError())).toBeInstanceOf(EventStoreUnavailableError);
    const grpc = Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14 });
    expect(toStoreError(grpc)).toBeInstanceOf(EventStoreUnavailableError);
    expect((toStoreError(grpc) as Error).cause).toBe(grpc);
    const other = Object.assign(new Error('permission denied'), { code: 7 });
    expect(toStoreError(other)).toBe(other);
  });

  it('reports a store with no server behind it as unavailable, for writes, reads and subscriptions', async () => {
    const store = createEventStoreDBStore(`esdb://127.0.0.1:${await closedPort()}?tls=false`);
    try {
      const event = {
        id: '5d3e3c7e-6f55-4b8e-9d0b-2c7e7b0b9a11',
        type: 'CashDeposited',
        data: { accountId: 'a', amount: 1 },
        metadata: {
          correlationId: 'c',
          causationId: 'c',
          occurredAt: '2030-01-01T00:00:00.000Z',
          schemaVersion: 1,
        },
      };
      await expect(store.append('account-a', [event], 'no_stream')).rejects.toBeInstanceOf(
        EventStoreUnavailableError,
      );
      await expect(store.readStream('account-a')).rejects.toBeInstanceOf(EventStoreUnavailableError);
      await expect(store.readAll({ after: 0 })).rejects.toBeInstanceOf(EventStoreUnavailableError);
      const subscription = store.subscribe({ checkpoint: 'test', handle: async () => {} });
      await expect(subscription.done).rejects.toBeInstanceOf(EventStoreUnavailableError);
    } finally {
      await store.close();
    }
  });
});
