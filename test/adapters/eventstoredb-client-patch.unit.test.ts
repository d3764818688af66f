import { EventEmitter } from 'node:events';
import { createRequire } from 'node:module';
import { jsonEvent } from '@eventstore/db-client';
import { describe, expect, it } from 'vitest';

/**
 * patches/@eventstore+db-client+6.2.1.patch (applied by `npm ci` through patch-package) carries the
 * fix of KurrentDB-Client-NodeJS PR #523 into 6.2.1: a promise bank per batch-append call, and a
 * late reply dropped instead of crashing. These tests drive the client's own batchAppend with a fake
 * gRPC call; both fail on the unpatched 6.2.1 (the second with a TypeError thrown out of `emit`).
 */
const require = createRequire(import.meta.url);
const { batchAppend } = require('@eventstore/db-client/dist/streams/appendToStream/batchAppend.js');
const { BatchAppendResp } = require('@eventstore/db-client/generated/streams_pb.js');
const { AllStreamPosition } = require('@eventstore/db-client/generated/shared_pb.js');

/** A connection with one batch-append call, as Client.GRPCStreamCreator caches it per gRPC client. */
function fakeConnection() {
  const call = Object.assign(new EventEmitter(), {
    sent: [] as { getCorrelationId(): unknown }[],
    write(request: { getCorrelationId(): unknown }) {
      call.sent.push(request);
      return true;
    },
  });
  const grpcClient = { batchAppend: () => call };
  const self = {
    throwOnAppendFailure: true,
    callArguments: () => [],
    createDeadline: () => new Date(Date.now() + 10_000),
    GRPCStreamCreator:
      (_client: unknown, _name: string, create: (c: unknown) => unknown, cache: WeakMap<object, unknown>) =>
      async () => {
        if (!cache.has(grpcClient)) cache.set(grpcClient, create(grpcClient));
        return cache.get(grpcClient);
      },
  };
  const append = (): Promise<{ success: boolean }> =>
    batchAppend.call(self, 'account-1', [jsonEvent({ type: 'T', data: {} })], {
      expectedRevision: 'any',
      batchAppendSize: 1024 * 1024,
    });
  /** The server's success reply to the `index`-th request sent on this call. */
  const reply = (index: number) => {
    const position = new AllStreamPosition();
    position.setCommitPosition('100');
    position.setPreparePosition('100');
    const success = new BatchAppendResp.Success();
    success.setCurrentRevision('0');
    success.setPosition(position);
    const response = new BatchAppendResp();
    response.setCorrelationId(call.sent[index]!.getCorrelationId());
    response.setSuccess(success);
    call.emit('data', response);
  };
  return { call, append, reply };
}

/** A gRPC ServiceError, as grpc-js emits it on a failed call. */
const grpcError = (code: number, details: string) =>
  Object.assign(new Error(`${code} ${details}`), { code, details, metadata: { getMap: () => ({}) } });

const settled = async (promise: Promise<unknown>) => {
  let state = 'pending';
  promise.then(
    () => {
      state = 'resolved';
    },
    () => {
      state = 'rejected';
    },
  );
  await new Promise((resolve) => setImmediate(resolve));
  return state;
};

describe('@eventstore/db-client 6.2.1 batch append, patched', () => {
  it('an error on one connection fails only the appends sent on it', async () => {
    const [a, b] = [fakeConnection(), fakeConnection()];
    const [onA, onB] = [a.append(), b.append()];
    await new Promise((resolve) => setImmediate(resolve));
    expect([a.call.sent.length, b.call.sent.length]).toEqual([1, 1]);
    a.call.emit('error', grpcError(14, 'Connection dropped'));
    expect(await settled(onA)).toBe('rejected');
    expect(await settled(onB)).toBe('pending');
    b.reply(0);
    await expect(onB).resolves.toMatchObject({ success: true, nextExpectedRevision: 0n });
  });

  it('a reply that arrives after its call failed is dropped, not thrown inside the data handler', async () => {
    const a = fakeConnection();
    const onA = a.append();
    await new Promise((resolve) => setImmediate(resolve));
    a.call.emit('error', grpcError(13, 'Received RST_STREAM'));
    await expect(onA).rejects.toThrow();
    expect(() => a.reply(0)).not.toThrow();
  });
});
