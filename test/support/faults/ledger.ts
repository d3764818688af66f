import { expect } from 'vitest';
import type { Sql } from '../../../src/adapters/postgres/client.ts';
import { BALANCE_MOVES } from '../balance-moves.ts';
import { esbank } from '../cli.ts';

/** Reads the event log straight from the database: the ground truth after a fault. */
export async function ledger(sql: Sql) {
  const rows = await sql<{ type: string; stream_name: string; data: Record<string, unknown> }[]>`
    SELECT type, stream_name, data FROM events ORDER BY global_position`;
  const sum = (types: Record<string, number>) =>
    rows.reduce((total, row) => total + (types[row.type] ?? 0) * Number(row.data.amount ?? 0), 0);
  const terminal = new Map<string, string[]>();
  const debited = new Set<string>();
  const closed = new Set<string>();
  const movedAfterClose: string[] = [];
  const refunded: string[] = [];
  for (const row of rows) {
    if (row.type === 'TransferDebited') debited.add(String(row.data.transferId));
    if (row.type === 'TransferDebitRefunded') refunded.push(String(row.data.transferId));
    if (row.type === 'AccountClosed') closed.add(row.stream_name);
    else if (closed.has(row.stream_name) && BALANCE_MOVES.has(row.type))
      movedAfterClose.push(`${row.stream_name} ${row.type}`);
    if (row.type === 'TransferCompleted' || row.type === 'TransferCancelled') {
      const id = String(row.data.transferId);
      terminal.set(id, [
        ...(terminal.get(id) ?? []),
        row.type === 'TransferCancelled' ? `CANCELLED:${row.data.reason}` : 'COMPLETED',
      ]);
    }
  }
  return {
    requested: new Set(
      rows.filter((r) => r.type === 'TransferRequested').map((r) => String(r.data.transferId)),
    ),
    terminal,
    cash: sum({ CashDeposited: 1, CashWithdrawn: -1 }),
    available: sum({
      CashDeposited: 1,
      CashWithdrawn: -1,
      TransferCreditReleased: 1,
      TransferDebited: -1,
      TransferDebitRefunded: 1,
    }),
    pending: sum({ TransferCreditHeld: 1, TransferCreditReleased: -1, TransferCreditCancelled: -1 }),
    /** Transfers whose source was debited but that did not end COMPLETED (after the pivot only forward). */
    debitedNotCompleted: [...debited].filter((id) => (terminal.get(id) ?? []).some((o) => o !== 'COMPLETED')),
    /** Refunds exist only in histories written before debits could be voided. */
    refunded,
    /** A closed account holds 0 and stays at 0: balance changes after AccountClosed. */
    movedAfterClose,
    /** (stream, type, transfer) triples that occur more than once: a step done twice. */
    doubled: (() => {
      const seen = new Map<string, number>();
      for (const row of rows) {
        if (!row.data.transferId) continue;
        // A cancelled transfer records each compensation step once: the step is part of the key.
        const key = `${row.stream_name}|${row.type}|${row.data.transferId}|${row.data.step ?? ''}`;
        seen.set(key, (seen.get(key) ?? 0) + 1);
      }
      return [...seen.entries()].filter(([, n]) => n > 1);
    })(),
  };
}

/** Waits (bounded) until every given transfer has a terminal event and no credit is pending. */
export async function waitForQuiescence(sql: Sql, transferIds: Iterable<string>, timeoutMs: number) {
  const ids = [...transferIds];
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const state = await ledger(sql);
    if (ids.every((id) => state.terminal.has(id)) && state.pending === 0) return state;
    if (Date.now() > deadline) {
      const open = ids.filter((id) => !state.terminal.has(id));
      // What the stuck ones went through, whether the saga parked anything, their deadlines, and
      // where the processors' partitions stand against the log: the diagnosis.
      const steps = await sql<{ id: string; steps: string }[]>`
        SELECT data->>'transferId' AS id, string_agg(type, ' > ' ORDER BY global_position) AS steps
        FROM events WHERE data->>'transferId' = ANY(${open.slice(0, 3)}) GROUP BY 1`;
      const parked = await sql`SELECT type, error FROM saga_parked_events LIMIT 5`;
      const deadlines =
        await sql`SELECT * FROM transfer_deadlines WHERE transfer_id::text = ANY(${open.slice(0, 3)})`;
      const processors = await sql`
        SELECT processor, min(position) AS lowest, max(position) AS highest, count(owner) AS owned,
               bool_and(lease_until > now()) AS leased, (SELECT max(global_position) FROM events) AS log_end
        FROM processor_partitions GROUP BY processor`;
      throw new Error(
        `${open.length} transfers not terminal, pending ${state.pending}: ${JSON.stringify({ steps, parked, deadlines, processors })}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Conservation, no step twice, one end per transfer, and SPEC's rules: only forward after the pivot, closed stays at 0. */
export function expectSound(state: Awaited<ReturnType<typeof ledger>>) {
  expect(state.doubled).toEqual([]);
  expect(state.debitedNotCompleted, 'a transfer whose source was debited ends COMPLETED').toEqual([]);
  expect(state.refunded, 'no refunds: the source voids or debits, never both').toEqual([]);
  expect(state.movedAfterClose, 'a closed account stays at 0').toEqual([]);
  expect(state.pending).toBe(0);
  expect(state.available).toBe(state.cash);
  for (const outcomes of state.terminal.values()) expect(outcomes).toHaveLength(1);
}

/**
 * `esbank verify` over the whole store, as an operator would run it after a fault: every
 * invariant and every read model against the folded log, with no discrepancy (exit 0).
 */
export async function expectReconciled(databaseUrl: string) {
  const run = await esbank(['verify', '--json'], { DATABASE_URL: databaseUrl });
  const report = run.stdout ? JSON.parse(run.stdout) : null;
  expect({ code: run.code, stderr: run.stderr, discrepancies: report?.discrepancies }).toEqual({
    code: 0,
    stderr: '',
    discrepancies: [],
  });
  return report as { events: number; transfers: number; noteCount: number };
}
