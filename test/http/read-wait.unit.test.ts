import { describe, expect, it } from 'vitest';
import { mintToken } from '../../src/adapters/http/auth.ts';
import type { HttpDeps } from '../../src/adapters/http/context.ts';
import { appWith, UNIT_SECRET } from '../support/http-app.ts';

const ACCOUNT = '6f1c2a8e-5b0d-4c3e-9a7f-2d4b6c8e0a1f';

/**
 * What a query waits for by default (no minPosition), in process: the log's newest event is at
 * 100, the account's newest at 7. Each waitForPosition call is recorded, with the read model it
 * names. The balance reads report the balances checkpoint `balancesAt` gives for each read in
 * turn (behind everything by default), and their available amount counts the reads.
 */
function appAt(balancesAt: (read: number) => number = () => 0) {
  const waits: [number, string | undefined][] = [];
  let balanceReads = 0;
  const store = {
    lastPosition: async () => 100,
    streamPosition: async (stream: string) => (stream === `account-${ACCOUNT}` ? 7 : 0),
  } as unknown as HttpDeps['store'];
  const readModel = {
    waitForPosition: async (position: number, _timeoutMs: number, only?: string) => {
      waits.push([position, only]);
      return true;
    },
    getAccount: async () => {
      balanceReads++;
      return {
        position: balancesAt(balanceReads),
        account: {
          accountId: ACCOUNT,
          currency: 'EUR',
          ownerId: 'alice',
          status: 'OPEN',
          available: balanceReads,
          pending: 0,
          version: 1,
        },
      };
    },
    ownerOfAccount: async () => 'alice',
    getHistory: async () => ({ page: { items: [], nextCursor: null }, position: 0 }),
    listTransfers: async () => ({ items: [], nextCursor: null }),
  } as unknown as HttpDeps['readModel'];
  return { app: appWith({ store, readModel }), waits, balanceReads: () => balanceReads };
}

const get = async (app: ReturnType<typeof appAt>['app'], path: string) =>
  app.request(path, {
    headers: { authorization: `Bearer ${await mintToken({ sub: 'alice' }, UNIT_SECRET)}` },
  });

describe('what a read waits for by default', () => {
  it("an account's balance and history wait for that account's newest event, not the log's", async () => {
    const { app, waits } = appAt();
    expect((await get(app, `/accounts/${ACCOUNT}`)).status).toBe(200);
    expect((await get(app, `/accounts/${ACCOUNT}/history`)).status).toBe(200);
    expect(waits).toEqual([
      [7, 'balances'],
      [7, 'history'],
    ]);
  });

  it('a balance read that has already reached the target answers at once, without a wait', async () => {
    const { app, waits, balanceReads } = appAt(() => 7);
    const response = await get(app, `/accounts/${ACCOUNT}`);
    expect(await response.json()).toMatchObject({ available: 1 });
    expect(waits).toEqual([]);
    expect(balanceReads()).toBe(1);
  });

  it('a balance read found behind its target waits for it and answers from a read made after', async () => {
    const { app, waits, balanceReads } = appAt((read) => (read === 1 ? 6 : 7));
    const response = await get(app, `/accounts/${ACCOUNT}`);
    expect(await response.json()).toMatchObject({ available: 2 });
    expect(waits).toEqual([[7, 'balances']]);
    expect(balanceReads()).toBe(2);
  });

  it('minPosition, when given, is what they wait for', async () => {
    const { app, waits } = appAt();
    await get(app, `/accounts/${ACCOUNT}?minPosition=50`);
    await get(app, `/accounts/${ACCOUNT}/history?minPosition=60`);
    expect(waits).toEqual([
      [50, 'balances'],
      [60, 'history'],
    ]);
  });

  it("a list of transfers (built from many streams) waits for the log's newest event", async () => {
    const { app, waits } = appAt();
    expect((await get(app, `/transfers?accountId=${ACCOUNT}`)).status).toBe(200);
    expect(waits).toEqual([[100, 'transfers']]);
  });
});
