import {
  CancelledError,
  DeadlineExceededError,
  NotLeaderError,
  TimeoutError,
  UnavailableError,
  UnknownError,
} from '@eventstore/db-client';
import { describe, expect, it } from 'vitest';
import { AppendOutcomeUnknownError, toStoreError } from '../../src/adapters/eventstoredb/errors.ts';
import { createEventStoreDBStore } from '../../src/adapters/eventstoredb/event-store.ts';
import {
  EventStoreUnavailableError,
  WrongExpectedRevisionError,
} from '../../src/application/ports/event-store.ts';
import { createStubClient, newEvent } from './eventstoredb-stub-client.ts';

const NO_WAIT = { attempts: 3, delayMs: () => 0 };

/** As the 6.2.1 client builds them from a gRPC ServiceError (dist/utils/CommandError.js). */
const serviceError = (code: number, details: string, metadata: Record<string, string> = {}) =>
  Object.assign(new Error(`${code} ${details}`), {
    code,
    details,
    metadata: { getMap: () => metadata },
  });

const transient = {
  // A node shutting down cancels its calls (client commit 3543b83; server >= 24.4).
  cancelled: () => new CancelledError(serviceError(1, 'CANCELLED: Call cancelled') as never),
  // A batch append's commit timeout: Status.Timeout, unpacked with no message (unpackError.js).
  'deadline exceeded': () => new DeadlineExceededError(),
  // A unary append's commit timeout, or a dropped subscription: ABORTED (RpcExceptions.Timeout).
  'timeout (aborted)': () => new TimeoutError(serviceError(10, 'ABORTED: Operation timed out') as never),
  'not leader': () =>
    new NotLeaderError(
      serviceError(5, 'NOT_FOUND: Leader info available', {
        'leader-endpoint-host': 'node2',
        'leader-endpoint-port': '2113',
      }) as never,
    ),
  // NotHandled NotReady in a batch append (Streams.BatchAppend.cs ConvertMessage, unpackError.js).
  'server not ready': () => new UnknownError(undefined, 'Could not recognize Server Is Not Ready'),
  'server busy': () => new UnknownError(undefined, 'Could not recognize Server Is Busy'),
  unavailable: () =>
    new UnavailableError(serviceError(14, 'UNAVAILABLE: No connection established') as never),
};

describe('EventStoreDB errors onto the port', () => {
  it.each(Object.entries(transient))(
    'maps %s to EventStoreUnavailableError (503 with Retry-After)',
    (_, make) => {
      const error = make();
      const mapped = toStoreError(error);
      expect(mapped).toBeInstanceOf(EventStoreUnavailableError);
      expect((mapped as Error).cause).toBe(error);
    },
  );

  it('passes other unknown errors and permission errors through', () => {
    const unknown = new UnknownError(undefined, 'Could not recognize something else');
    expect(toStoreError(unknown)).toBe(unknown);
    const denied = serviceError(7, 'PERMISSION_DENIED');
    expect(toStoreError(denied)).toBe(denied);
  });

  it.each(Object.entries(transient))('retries a read after %s', async (_, make) => {
    const stub = createStubClient();
    const store = createEventStoreDBStore(stub.client, { retry: NO_WAIT });
    await store.append('account-1', [newEvent()], 'no_stream');
    stub.failNext('readStream', make());
    await expect(store.readStream('account-1')).resolves.toHaveLength(1);
    expect(stub.calls.readStream).toBe(2);
  });

  it('gives up on a read after the policy’s attempts, as unavailable', async () => {
    const stub = createStubClient();
    const store = createEventStoreDBStore(stub.client, { retry: NO_WAIT });
    for (let i = 0; i < 3; i++) stub.failNext('readAll', transient.cancelled());
    await expect(store.readAll({ after: 0 })).rejects.toBeInstanceOf(EventStoreUnavailableError);
    expect(stub.calls.readAll).toBe(3);
  });
});

describe('EventStoreDB append: a failure whose outcome is unknown is settled by reading back', () => {
  const setup = async () => {
    const stub = createStubClient();
    const store = createEventStoreDBStore(stub.client, { retry: NO_WAIT });
    const first = await store.append('account-1', [newEvent()], 'no_stream');
    return { stub, store, first };
  };

  it('retries a refusal the server sent before writing (not ready), and writes once', async () => {
    const { stub, store } = await setup();
    stub.failNext('appendToStream', transient['server not ready']());
    const events = [newEvent(), newEvent()];
    const result = await store.append('account-1', events, 0);
    expect(result.nextExpectedRevision).toBe(2);
    expect(stub.stream('account-1')).toHaveLength(3);
    expect(stub.calls.readStream).toBe(0);
  });

  it.each(['deadline exceeded', 'timeout (aborted)', 'not leader', 'cancelled', 'unavailable'] as const)(
    'after %s, finds events that landed and does not send them again',
    async (name) => {
      const { stub, store } = await setup();
      const events = [newEvent(), newEvent()];
      stub.failNext('appendToStream', transient[name](), { landed: true });
      const appendsBefore = stub.calls.appendToStream;
      const result = await store.append('account-1', events, 0);
      const stored = stub.stream('account-1');
      expect(stored.map((event) => event.id)).toEqual([stored[0]!.id, ...events.map((event) => event.id)]);
      expect(result).toEqual({ nextExpectedRevision: 2, position: Number(stored[2]!.position.commit) });
      expect(stub.calls.appendToStream - appendsBefore).toBe(1);
    },
  );

  it('after a commit timeout that wrote nothing, sends the same events again, once', async () => {
    const { stub, store } = await setup();
    const events = [newEvent()];
    stub.failNext('appendToStream', transient['deadline exceeded']());
    await store.append('account-1', events, 0);
    expect(stub.stream('account-1').map((event) => event.id)).toContain(events[0]!.id);
    expect(stub.stream('account-1')).toHaveLength(2);
  });

  it('reports a conflict when another writer took the revision meanwhile', async () => {
    const { stub, store } = await setup();
    stub.failNext('appendToStream', transient['deadline exceeded']());
    stub.write('account-1', 'SomeoneElse');
    await expect(store.append('account-1', [newEvent()], 0)).rejects.toBeInstanceOf(
      WrongExpectedRevisionError,
    );
  });

  it('with `any`, never sends again what it cannot find: the outcome is reported unknown (a 503)', async () => {
    const { stub, store } = await setup();
    stub.failNext('appendToStream', transient['not leader']());
    const error = await store.append('account-1', [newEvent()], 'any').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(AppendOutcomeUnknownError);
    expect(error).toBeInstanceOf(EventStoreUnavailableError);
    expect(stub.stream('account-1')).toHaveLength(1);
  });

  it('with `any`, finds events that landed behind later writers', async () => {
    const { stub, store } = await setup();
    const events = [newEvent()];
    stub.failNext('appendToStream', transient.cancelled(), { landed: true });
    stub.failNext('readStream', transient.unavailable());
    await expect(store.append('account-1', events, 'any')).rejects.toBeInstanceOf(AppendOutcomeUnknownError);
    stub.write('account-1', 'Later', 5);
    stub.failNext('appendToStream', transient.cancelled());
    // The store was left unsure; a caller's second try with the same events resolves it by reading.
    await expect(store.append('account-1', events, 'any')).resolves.toMatchObject({
      nextExpectedRevision: 1,
    });
  });

  it('reports an unknown outcome when the read-back fails too', async () => {
    const { stub, store } = await setup();
    stub.failNext('appendToStream', transient['deadline exceeded']());
    stub.failNext('readStream', transient.unavailable());
    await expect(store.append('account-1', [newEvent()], 0)).rejects.toBeInstanceOf(
      AppendOutcomeUnknownError,
    );
  });
});

describe('EventStoreDB append with throwOnAppendFailure=false', () => {
  it('turns { success: false } into WrongExpectedRevisionError, so the repository retries', async () => {
    const stub = createStubClient({ throwOnAppendFailure: false });
    const store = createEventStoreDBStore(stub.client, { retry: NO_WAIT });
    await store.append('account-1', [newEvent()], 'no_stream');
    await expect(store.append('account-1', [newEvent()], 5)).rejects.toMatchObject({
      name: 'WrongExpectedRevisionError',
      streamName: 'account-1',
      expected: 5,
      // The 6.2.1 batch append reports BigInt(true) = 1n here: not a revision to pass on.
      actual: 'unknown',
    });
    await expect(store.append('account-2', [newEvent()], 0)).rejects.toMatchObject({ actual: 'no_stream' });
  });
});
