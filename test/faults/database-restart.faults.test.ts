import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createSql } from '../../src/adapters/postgres/client.ts';
import {
  type EmbeddedDatabase,
  ensureDatabase,
  startEmbeddedPostgres,
} from '../../src/adapters/postgres/embedded.ts';
import { expectReconciled, expectSound, waitForQuiescence } from '../support/faults/ledger.ts';
import { call, callUntilAnswered, freePort, serviceProcess, tokenFor } from '../support/faults/service.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** `pg_ctl stop -m immediate` is SIGQUIT to the postmaster: no checkpoint, crash recovery on start. */
async function stopImmediately(dataDir: string) {
  const pid = Number((await readFile(join(dataDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  process.kill(pid, 'SIGQUIT');
  for (let i = 0; i < 100; i++) {
    try {
      process.kill(pid, 0);
    } catch {
      return;
    }
    await sleep(50);
  }
  throw new Error('postmaster did not stop');
}

describe('database restart (-m immediate) under load, on a private cluster', () => {
  const cleanups: Array<() => Promise<unknown>> = [];
  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch(() => {});
  });

  it('answers 503 while the database is down, recovers within 5 s, and loses nothing', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'esbank-fault-pg-'));
    await chmod(parent, 0o755);
    cleanups.push(() => rm(parent, { recursive: true, force: true }));
    const dataDir = join(parent, 'data');
    const port = await freePort();
    let database: EmbeddedDatabase = await startEmbeddedPostgres({ dataDir, port });
    cleanups.push(async () => {
      if (existsSync(join(dataDir, 'postmaster.pid'))) await stopImmediately(dataDir);
    });
    const url = await ensureDatabase(database.adminUrl, 'esbank');
    const service = await serviceProcess({ DATABASE_URL: url, RATE_LIMIT_PER_MINUTE: '100000000' });
    cleanups.push(() => service.dispose());

    const owner = await tokenFor('owner');
    const operator = await tokenFor('ops', 'operator');
    const accounts: string[] = [];
    for (let i = 0; i < 10; i++) {
      const id = (await call(service.url, 'POST', '/accounts', owner, { currency: 'EUR' })).body.accountId;
      await call(service.url, 'POST', `/accounts/${id}/deposits`, operator, { amount: 5_000 });
      accounts.push(id);
    }

    const acknowledged = new Set<string>();
    let issued = 0;
    const load = Promise.all(
      Array.from({ length: 8 }, async () => {
        while (issued < 400) {
          const i = issued++;
          const body = {
            fromAccountId: accounts[i % 10],
            toAccountId: accounts[(i + 3) % 10],
            amount: 1 + (i % 50),
          };
          const response = await callUntilAnswered(
            service.url,
            '/transfers',
            owner,
            body,
            `db-restart-${i}-${randomUUID()}`,
          );
          if (response.status === 202) acknowledged.add(response.body.transferId);
        }
      }),
    );

    while (issued < 100) await sleep(10);
    await stopImmediately(dataDir);
    // While it is down, reads and commands answer 503 problem+json (polled: the first requests may
    // still be failing over from the dead connections) and readiness fails.
    const downSince = Date.now();
    let down = await call(service.url, 'GET', `/accounts/${accounts[0]}`, owner);
    while (down.status !== 503 && Date.now() - downSince < 10_000) {
      expect([0, 503]).toContain(down.status);
      down = await call(service.url, 'GET', `/accounts/${accounts[0]}`, owner);
    }
    expect(down.status).toBe(503);
    expect(down.body).toMatchObject({ status: 503, type: 'service-unavailable' });
    const command = await call(service.url, 'POST', `/accounts/${accounts[0]}/deposits`, operator, {
      amount: 1,
    });
    expect(command.status).toBe(503);
    expect((await call(service.url, 'GET', '/health/ready', owner)).status).toBe(503);
    await sleep(1_000);

    database = await startEmbeddedPostgres({ dataDir, port });
    const back = Date.now();
    while ((await call(service.url, 'GET', '/health/ready', owner)).status !== 200) {
      expect(Date.now() - back).toBeLessThan(5_000);
      await sleep(50);
    }
    console.log(`database restart: ready again ${Date.now() - back} ms after PostgreSQL was back`);

    await load;
    expect(acknowledged.size).toBe(400);
    const sql = createSql(url, { max: 2 });
    cleanups.push(() => sql.end({ timeout: 1 }));
    // A transfer whose saga step fell into the outage may end through its deadline (30 s), and a
    // deadline claimed just as the database went down waits out its claim's lease (30 s) first.
    const state = await waitForQuiescence(sql, acknowledged, 90_000);
    expect(state.requested.size).toBe(400);
    expectSound(state);
    expect(state.cash).toBe(50_000);
    await expectReconciled(url);
  });
});
