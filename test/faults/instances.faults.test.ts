import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SAGA_PARTITIONS } from '../../src/application/transfer-saga-coordinator.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { expectReconciled, expectSound, ledger, waitForQuiescence } from '../support/faults/ledger.ts';
import { call, serviceProcess, tokenFor, workloadTransfer } from '../support/faults/service.ts';

const TRANSFERS = Number(process.env.FAULTS_TRANSFERS ?? 2000);
const ACCOUNTS = 30;
const CLIENTS = 12;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

type Service = Awaited<ReturnType<typeof serviceProcess>>;

/** This instance's saga partitions and saga events handled, from its /metrics (null while it does not answer). */
async function sagaShare(service: Service): Promise<{ held: number; handled: number } | null> {
  try {
    const text = await (await fetch(`${service.url}/metrics`, { signal: AbortSignal.timeout(2_000) })).text();
    const value = (name: string) =>
      Number(new RegExp(`^${name}\\{processor="transfer-saga"\\} (\\d+)`, 'm').exec(text)?.[1] ?? Number.NaN);
    return {
      held: value('esbank_processor_partitions_held'),
      handled: value('esbank_processor_events_handled_total'),
    };
  } catch {
    return null;
  }
}

/** Polls until the live instances hold every saga partition between them; returns how long it took. */
async function partitionsSettle(live: Service[], timeoutMs = 15_000): Promise<number> {
  const started = Date.now();
  for (;;) {
    const shares = await Promise.all(live.map(sagaShare));
    const held = shares.map((share) => share?.held ?? 0);
    if (held.reduce((a, b) => a + b, 0) === SAGA_PARTITIONS && held.every((n) => n > 0))
      return Date.now() - started;
    if (Date.now() - started > timeoutMs) throw new Error(`partitions did not settle: ${held.join(', ')}`);
    await sleep(100);
  }
}

describe('three instances on one PostgreSQL: shared work, kill -9, SIGSTOP past the lease', () => {
  let db: TestDatabase;
  const services: Service[] = [];

  beforeAll(async () => {
    db = await createTestDatabase();
    for (let i = 0; i < 3; i++)
      services.push(await serviceProcess({ DATABASE_URL: db.url, RATE_LIMIT_PER_MINUTE: '100000000' }));
  });
  afterAll(async () => {
    for (const service of services) await service.dispose();
    await db?.drop();
  });

  it('ends every transfer exactly once, moves a dead instance’s partitions within 5 s, and conserves money', async () => {
    const [a, b, c] = services as [Service, Service, Service];
    const owner = await tokenFor('owner');
    const operator = await tokenFor('ops', 'operator');
    const accounts: string[] = [];
    for (let i = 0; i < ACCOUNTS; i++) {
      const via = services[i % 3]!;
      const opened = await call(via.url, 'POST', '/accounts', owner, { currency: 'EUR' });
      accounts.push(opened.body.accountId);
      await call(via.url, 'POST', `/accounts/${opened.body.accountId}/deposits`, operator, {
        amount: 10_000,
      });
    }
    await partitionsSettle(services);

    // Each request goes to the next instance; a refused or failed one is sent again, with the
    // same Idempotency-Key, to the instance after it (keys live in PostgreSQL).
    const acknowledged = new Set<string>();
    let issued = 0;
    const send = async (i: number) => {
      const body = workloadTransfer(accounts, i);
      const key = `instances-${i}-${randomUUID()}`;
      for (let attempt = 0; attempt < 200; attempt++) {
        const via = services[(i + attempt) % 3]!;
        const response = await call(via.url, 'POST', '/transfers', owner, body, { 'idempotency-key': key });
        if (response.status === 202) return acknowledged.add(response.body.transferId);
        if (response.status !== 0 && response.status < 500 && response.status !== 409)
          throw new Error(`transfer ${i}: ${response.status} ${JSON.stringify(response.body)}`);
        await sleep(Math.min(200, 10 * 2 ** attempt));
      }
      throw new Error(`transfer ${i} was never acknowledged`);
    };
    const load = Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (issued < TRANSFERS) await send(issued++);
      }),
    );
    const reached = async (share: number) => {
      while (issued < TRANSFERS * share) await sleep(20);
    };

    await reached(0.25);
    const early = await Promise.all(services.map(sagaShare));
    expect(
      early.map((share) => share?.handled ?? 0).every((n) => n > 0),
      JSON.stringify(early),
    ).toBe(true);

    await reached(0.4);
    await c.kill('SIGKILL');
    const movedAfterKill = await partitionsSettle([a, b]);
    expect(movedAfterKill, 'a dead instance’s partitions move within 5 s').toBeLessThan(5_000);

    await reached(0.6);
    // Paused past its lease (2.5 s): the others take its partitions; woken, it is fenced off.
    b.signal('SIGSTOP');
    const movedAfterStop = await partitionsSettle([a]);
    await sleep(Math.max(0, 5_000 - movedAfterStop));
    b.signal('SIGCONT');
    await c.start();
    await load;
    await partitionsSettle(services);

    expect(acknowledged.size).toBe(TRANSFERS);
    const state = await waitForQuiescence(db.sql, acknowledged, 60_000);
    for (const id of acknowledged) expect(state.requested.has(id)).toBe(true);
    expect(state.requested.size).toBe(TRANSFERS);
    expectSound(state);
    expect(state.cash).toBe(ACCOUNTS * 10_000);
    expect((await ledger(db.sql)).terminal.size).toBe(TRANSFERS);
    await expectReconciled(db.url);
    console.log(
      `instances: partitions moved ${movedAfterKill} ms after kill -9 and ${movedAfterStop} ms after SIGSTOP; shares early ${JSON.stringify(early)}`,
    );
  });
});
