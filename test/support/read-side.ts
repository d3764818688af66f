import { expect } from 'vitest';
import type { Sql } from '../../src/adapters/postgres/client.ts';
import type { EventStore, RecordedEvent } from '../../src/application/ports/event-store.ts';
import { type AccountEvent, type AccountState, accountDecider } from '../../src/domain/account/index.ts';
import { BALANCE_MOVES } from './balance-moves.ts';

/** Every row of the three read models, in key order: two snapshots are equal when the tables are. */
export async function readModelTables(sql: Sql) {
  const [balances, history, transfers] = await Promise.all([
    sql`SELECT * FROM balances ORDER BY account_id`,
    sql`SELECT * FROM history ORDER BY position`,
    sql`SELECT * FROM transfers ORDER BY transfer_id`,
  ]);
  return { balances: [...balances], history: [...history], transfers: [...transfers] };
}

/** The log, or its prefix up to `until`: the first event past it ends the prefix (as replay cuts it). */
export async function logPrefix(store: EventStore, until: { position?: number; time?: Date } = {}) {
  const events: RecordedEvent[] = [];
  for (let after = 0; ; ) {
    const batch = await store.readAll({ after, batchSize: 1000 });
    if (batch.length === 0) return events;
    for (const event of batch) {
      const past =
        (until.position !== undefined && event.position > until.position) ||
        (until.time !== undefined && Date.parse(event.metadata.occurredAt) > until.time.getTime());
      if (past) return events;
      events.push(event);
    }
    after = batch[batch.length - 1]!.position;
  }
}

/** What the balances table must say, folded from the events by the account decider itself. */
export function balancesFoldedFrom(events: readonly RecordedEvent[]) {
  const accounts = new Map<string, { state: AccountState; version: number }>();
  for (const event of events) {
    if (!event.streamName.startsWith('account-')) continue;
    const id = String(event.data.accountId);
    const current = accounts.get(id) ?? { state: accountDecider.initialState(), version: -1 };
    accounts.set(id, {
      state: accountDecider.evolve(current.state, event as unknown as AccountEvent),
      version: event.revision,
    });
  }
  return [...accounts.entries()]
    .flatMap(([accountId, { state, version }]) =>
      state.status === 'Unopened'
        ? []
        : [
            {
              account_id: accountId,
              owner_id: state.ownerId,
              currency: state.currency,
              status: state.status === 'Open' ? 'OPEN' : 'CLOSED',
              available: state.available,
              pending: state.pending,
              version,
            },
          ],
    )
    .sort((a, b) => a.account_id.localeCompare(b.account_id));
}

/**
 * Checks the read models against the events they were built from, independently of the
 * projection code: balances equal the decider's fold, history holds exactly one row per
 * balance-changing event whose running balances end where the account is, and every transfer
 * has one row whose timeline names each of its steps once.
 */
export async function expectReadModelsOf(sql: Sql, events: readonly RecordedEvent[]) {
  const { balances, history, transfers } = await readModelTables(sql);
  const expected = balancesFoldedFrom(events);
  expect(
    balances.map(({ account_id, owner_id, currency, status, available, pending, version }) => ({
      account_id,
      owner_id,
      currency,
      status,
      available,
      pending,
      version,
    })),
  ).toEqual(expected);

  const moving = events.filter(
    (event) => event.streamName.startsWith('account-') && BALANCE_MOVES.has(event.type),
  );
  expect(history.map((row) => row.position)).toEqual(moving.map((event) => event.position));
  const last = new Map(history.map((row) => [row.account_id, row]));
  for (const account of expected) {
    const row = last.get(account.account_id);
    expect({ available: row?.available_after ?? 0, pending: row?.pending_after ?? 0 }).toEqual({
      available: account.available,
      pending: account.pending,
    });
  }

  const requested = events.filter((event) => event.type === 'TransferRequested');
  expect(transfers.map((row) => row.transfer_id).sort()).toEqual(
    requested.map((event) => String(event.data.transferId)).sort(),
  );
  for (const row of transfers) {
    const positions = (row.timeline as { position: number }[]).map((step) => step.position);
    expect(new Set(positions).size).toBe(positions.length);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));
  }
}
