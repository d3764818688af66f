import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createPostgresEventStore } from '../../src/adapters/postgres/event-store.ts';
import { createPostgresSagaStore } from '../../src/adapters/postgres/saga-store.ts';
import type { AccountRepository } from '../../src/application/banking-service.ts';
import { silentLogger } from '../../src/application/ports/logger.ts';
import { createTransferSagaCoordinator } from '../../src/application/transfer-saga-coordinator.ts';
import { esbank } from '../support/cli.ts';
import { createTestDatabase, type TestDatabase } from '../support/database.ts';
import { createBank, request, runSaga } from '../support/saga.ts';

/**
 * A poisoned event: the coordinator of this process has a bug that makes every hold fail, so it
 * parks the TransferRequested events it reads. The fix is "deployed" as the CLI, a process
 * without the bug: `esbank parked retry` runs the saga's handler on the event again.
 */
describe('esbank parked as a child process', () => {
  let db: TestDatabase;
  let store: ReturnType<typeof createPostgresEventStore>;
  let bank: ReturnType<typeof createBank>;
  const parkedIds: string[] = [];
  const transferIds: string[] = [];
  const parked = (...args: string[]) => esbank(['parked', ...args], { DATABASE_URL: db.url });

  beforeAll(async () => {
    db = await createTestDatabase();
    store = createPostgresEventStore(db.sql);
    const sagaStore = createPostgresSagaStore(db.sql);
    bank = createBank(store, sagaStore);
    const buggy: AccountRepository = {
      ...bank.banking.accounts,
      handle: (id, command, context, options) =>
        command.type === 'HoldTransferCredit'
          ? Promise.reject(new TypeError("Cannot read properties of undefined (reading 'currency')"))
          : bank.banking.accounts.handle(id, command, context, options),
    };
    const poisoned = createTransferSagaCoordinator({
      sagaStore,
      accounts: buggy,
      transfers: bank.banking.transfers,
      clock: bank.clock,
      logger: silentLogger,
    });
    const from = await bank.openWith(1_000);
    const to = await bank.openWith(0);
    for (const amount of [100, 200]) {
      const { transferId } = await bank.banking.requestTransfer(
        { fromAccountId: from, toAccountId: to, amount },
        request,
      );
      transferIds.push(transferId);
    }
    const poisonedRun = runSaga(poisoned, store);
    for (let waited = 0; (await sagaStore.countParked()) < 2; waited += 20) {
      if (waited > 15_000) throw new Error('the poisoned events were not parked');
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await poisonedRun.stop();
    parkedIds.push(...(await sagaStore.parked()).map((event) => event.eventId));
    // The fixed service takes over from the checkpoint, which is past the parked events.
    bank.coordinator().start();
  });
  afterAll(async () => {
    await store.close();
    await db.drop();
  });

  it('lists the parked events with their error, in log order', async () => {
    const run = await parked('list', '--json');
    expect(run.code).toBe(0);
    const events = JSON.parse(run.stdout);
    expect(events).toEqual(
      transferIds.map((transferId) => ({
        eventId: expect.any(String),
        position: expect.any(Number),
        type: 'TransferRequested',
        correlationId: transferId,
        error: "Cannot read properties of undefined (reading 'currency')",
        parkedAt: expect.stringMatching(/Z$/),
        resolution: null,
      })),
    );
    const text = await parked('list');
    expect(text.stdout).toContain('2 parked event(s):');
    expect(text.stdout).toContain(`TransferRequested  transfer ${transferIds[0]}`);
  });

  it('retries one after the fix: the transfer completes, and the retry is on record', async () => {
    expect((await bank.transferState(transferIds[0]!)).status).toBe('Requested');
    const run = await parked('retry', parkedIds[0]!, '--by', 'alice', '--json');
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({
      eventId: parkedIds[0],
      resolution: { action: 'retried', by: 'alice' },
      actions: [{ action: 'retried', actor: 'alice', detail: null }],
    });
    const [state] = await bank.settle([transferIds[0]!]);
    expect(state!.status).toBe('Completed');

    const again = await parked('retry', parkedIds[0]!);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/^esbank: event .* was retried by alice at /);
  });

  it('discards one: who and why are kept, and it leaves the list', async () => {
    const run = await parked('discard', parkedIds[1]!, '--by', 'bob', '--reason', 'the customer withdrew it');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('discarded by bob');
    expect(run.stdout).toContain('discarded by bob: the customer withdrew it');
    expect(JSON.parse((await parked('list', '--json')).stdout)).toEqual([]);
    const all = JSON.parse((await parked('list', '--all', '--json')).stdout);
    expect(all.map((e: { resolution: { action: string; by: string } }) => e.resolution)).toEqual([
      expect.objectContaining({ action: 'retried', by: 'alice' }),
      expect.objectContaining({ action: 'discarded', by: 'bob' }),
    ]);
    expect((await bank.transferState(transferIds[1]!)).status).toBe('Requested');
  });

  it('refuses an event that was never parked (exit 1) and a malformed id (exit 2)', async () => {
    const unknown = await parked('discard', '00000000-0000-4000-8000-000000000000');
    expect([unknown.code, unknown.stderr]).toEqual([
      1,
      'esbank: event 00000000-0000-4000-8000-000000000000 is not parked\n',
    ]);
    expect((await parked('retry', 'nope')).code).toBe(2);
  });
});
