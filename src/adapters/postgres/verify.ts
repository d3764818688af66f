import {
  createFindings,
  createLedgerAudit,
  type Discrepancy,
  type Findings,
  type LedgerAudit,
  type LedgerTotals,
} from '../../application/ledger-audit.ts';
import type { EventStore, RecordedEvent } from '../../application/ports/event-store.ts';
import { publicStatus } from '../../domain/transfer/index.ts';
import type { Sql } from './client.ts';
import { HISTORY_KIND_BY_EVENT } from './projections/history.ts';
import { createReadModel } from './read-model.ts';

export type VerifyOptions = {
  sql: Sql;
  store: EventStore;
  /** Events per batch read from the log. */
  batchSize?: number;
  /** How long to wait for the read models to reach the log head before comparing them. */
  waitMs?: number;
  /** Transfers still in flight must have a deadline at or after this moment. */
  now?: Date;
  onProgress?: (position: number, head: number, events: number) => void;
};

export type VerifyReport = LedgerTotals & {
  /** The log is verified up to this position (its head when verify started). */
  position: number;
  discrepancies: Discrepancy[];
  /** Discrepancies by check, all of them (the list above keeps the first few of each). */
  counts: Partial<Record<Discrepancy['check'], number>>;
  total: number;
  notes: Array<{ subject: string; detail: string }>;
  noteCount: number;
  /** Read-model rows left alone because they were changed after `position` (a live service). */
  skippedNewerRows: number;
  durationMs: number;
  eventsPerSecond: number;
};

const DEFAULT_BATCH_SIZE = 5000;
const CURSOR_ROWS = 2000;

type HistoryRow = {
  position: number;
  account_id: string;
  kind: string;
  amount: number;
  available_after: number;
  pending_after: number;
  transfer_id: string | null;
};

const describeRow = (row: object) =>
  Object.entries(row)
    .map(([key, value]) => `${key}=${value}`)
    .join(' ');

/** One history row per balance-changing event, with the account's balance after it. */
function expectedHistory(audit: LedgerAudit, event: RecordedEvent): HistoryRow | null {
  const kind = HISTORY_KIND_BY_EVENT[event.type];
  if (!kind || !event.streamName.startsWith('account-')) return null;
  const account = audit.account(event.streamName.slice('account-'.length));
  if (!account) return null;
  return {
    position: event.position,
    account_id: account.state.accountId,
    kind,
    amount: Number(event.data.amount),
    available_after: account.state.available,
    pending_after: account.state.pending,
    transfer_id: typeof event.data.transferId === 'string' ? event.data.transferId : null,
  };
}

const HISTORY_COLUMNS = [
  'account_id',
  'kind',
  'amount',
  'available_after',
  'pending_after',
  'transfer_id',
] as const satisfies readonly (keyof HistoryRow)[];

const sameHistory = (a: HistoryRow, b: HistoryRow) =>
  HISTORY_COLUMNS.every((column) => a[column] === b[column]);

/** The history rows of `(after, upTo]`, read while the batch is folded. */
const historyRows = (sql: Sql, after: number, upTo: number) =>
  sql<HistoryRow[]>`
    SELECT position, account_id, kind, amount, available_after, pending_after, transfer_id
    FROM history WHERE position > ${after} AND position <= ${upTo} ORDER BY position`;

/** History rows against the rows the batch's events call for; both are in position order. */
function compareHistory(findings: Findings, rows: readonly HistoryRow[], expected: readonly HistoryRow[]) {
  const report = (position: number, detail: string) =>
    findings.report({
      check: 'read-model',
      subject: `history row at position ${position}`,
      detail,
      position,
    });
  let i = 0;
  let j = 0;
  while (i < rows.length || j < expected.length) {
    const got = rows[i];
    const want = expected[j];
    if (want && (!got || want.position < got.position)) {
      report(want.position, `missing; expected ${describeRow(want)}`);
      j++;
    } else if (got && (!want || got.position < want.position)) {
      report(got.position, `no event calls for it: ${describeRow(got)}`);
      i++;
    } else if (got && want) {
      if (!sameHistory(got, want))
        report(want.position, `is ${describeRow(got)}; expected ${describeRow(want)}`);
      i++;
      j++;
    }
  }
}

/** Balances and transfers rows against the folded accounts and transfers; rows newer than `head` are skipped. */
async function compareTables(
  sql: Sql,
  store: EventStore,
  audit: LedgerAudit,
  findings: Findings,
  head: number,
) {
  const report = (subject: string, detail: string) =>
    findings.report({ check: 'read-model', subject, detail });
  let skipped = 0;

  const accounts = new Map(audit.foldedAccounts());
  const cursor = sql<
    {
      account_id: string;
      owner_id: string;
      currency: string;
      status: string;
      available: number;
      pending: number;
      version: number;
    }[]
  >`SELECT account_id, owner_id, currency, status, available, pending, version FROM balances`.cursor(
    CURSOR_ROWS,
  );
  for await (const rows of cursor) {
    for (const row of rows) {
      const folded = accounts.get(row.account_id);
      accounts.delete(row.account_id);
      if (!folded) {
        // Opened after `head` (a live service), or a row no event accounts for.
        const [first] = await store.readStream(`account-${row.account_id}`, { maxCount: 1 });
        if (first && first.position > head) skipped++;
        else report(`balances row ${row.account_id}`, 'no such account in the log');
        continue;
      }
      if (row.version > folded.revision) {
        skipped++;
        continue;
      }
      const { state } = folded;
      const want = {
        owner_id: state.ownerId,
        currency: state.currency,
        status: state.status === 'Open' ? 'OPEN' : 'CLOSED',
        available: state.available,
        pending: state.pending,
        version: folded.revision,
      };
      const got = {
        owner_id: row.owner_id,
        currency: row.currency,
        status: row.status,
        available: row.available,
        pending: row.pending,
        version: row.version,
      };
      if (describeRow(got) !== describeRow(want))
        report(`balances row ${row.account_id}`, `is ${describeRow(got)}; expected ${describeRow(want)}`);
    }
  }
  for (const id of accounts.keys()) report(`balances row ${id}`, 'missing');

  const transfers = new Map(audit.foldedTransfers());
  const transferRows = sql<
    {
      transfer_id: string;
      from_account_id: string;
      to_account_id: string;
      amount: number;
      currency: string;
      status: string;
      reason: string | null;
      last_position: number;
    }[]
  >`SELECT transfer_id, from_account_id, to_account_id, amount, currency, status, reason, last_position
    FROM transfers`.cursor(CURSOR_ROWS);
  for await (const rows of transferRows) {
    for (const { last_position: lastPosition, ...row } of rows) {
      const folded = transfers.get(row.transfer_id);
      transfers.delete(row.transfer_id);
      if (lastPosition > head) {
        skipped++;
        continue;
      }
      if (!folded) {
        report(`transfers row ${row.transfer_id}`, 'no such transfer in the log');
        continue;
      }
      const { state } = folded;
      const want = {
        transfer_id: row.transfer_id,
        from_account_id: state.details.fromAccountId,
        to_account_id: state.details.toAccountId,
        amount: state.details.amount,
        currency: state.details.currency,
        status: publicStatus(state),
        reason: state.status === 'Cancelled' ? state.reason : null,
      };
      if (describeRow(row) !== describeRow(want))
        report(`transfers row ${row.transfer_id}`, `is ${describeRow(row)}; expected ${describeRow(want)}`);
    }
  }
  for (const id of transfers.keys()) report(`transfers row ${id}`, 'missing');
  return skipped;
}

/**
 * `esbank verify`: reconciles the whole store. Streams the log up to its head once, folding every
 * account and transfer with the domain's own deciders (createLedgerAudit checks the invariants),
 * and compares the read models with it: history batch by batch as the log goes by, balances and
 * transfers at the end. The next batch of the log is read while one is checked. Memory grows with
 * the number of accounts and transfers, not with the number of events.
 */
export async function verifyStore(options: VerifyOptions): Promise<VerifyReport> {
  const started = performance.now();
  const { sql, store } = options;
  const batchSize = options.batchSize ?? DEFAULT_BATCH_SIZE;
  const now = options.now ?? new Date();
  const findings = createFindings();
  const audit = createLedgerAudit(findings);
  const head = await store.headPosition();

  // A live service's projections trail the log a little: compare them once they reached `head`.
  const readModel = createReadModel(sql);
  let compareReadModels = true;
  try {
    if (!(await readModel.waitForPosition(head, options.waitMs ?? 30_000))) {
      const checkpoints = await readModel.checkpoints();
      compareReadModels = false;
      findings.report({
        check: 'read-model',
        subject: 'projections',
        detail: `behind the log head ${head}: ${Object.entries(checkpoints)
          .filter(([, position]) => position < head)
          .map(([name, position]) => `${name} at ${position}`)
          .join(', ')} (read models not compared)`,
      });
    }
  } finally {
    await readModel.close();
  }

  const read = (after: number) => (after >= head ? Promise.resolve([]) : store.readAll({ after, batchSize }));
  let after = 0;
  let next = read(after);
  for (;;) {
    const batch = (await next).filter((event) => event.position <= head);
    if (batch.length === 0) break;
    const upTo = batch[batch.length - 1]!.position;
    next = read(upTo);
    const rows = compareReadModels ? historyRows(sql, after, upTo) : null;
    const expected: HistoryRow[] = [];
    for (const event of batch) {
      audit.apply(event);
      const row = compareReadModels ? expectedHistory(audit, event) : null;
      if (row) expected.push(row);
    }
    if (rows) compareHistory(findings, await rows, expected);
    after = upTo;
    options.onProgress?.(after, head, audit.eventsSoFar());
  }
  await next.catch(() => {});

  const totals = audit.finish(now);
  const skippedNewerRows = compareReadModels ? await compareTables(sql, store, audit, findings, head) : 0;
  const durationMs = Math.round(performance.now() - started);
  return {
    ...totals,
    position: after,
    ...findings.summary(),
    skippedNewerRows,
    durationMs,
    eventsPerSecond: Math.round(totals.events / Math.max(durationMs / 1000, 0.001)),
  };
}
