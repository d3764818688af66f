import { and, desc, eq, getTableColumns, inArray, lt, type SQL, sql } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import type { EventStore } from '../../application/ports/event-store.ts';
import {
  type AccountView,
  encodeCursor,
  type TransferQuery,
  type TransferView,
} from '../../application/ports/read-model.ts';
import { createBatcher } from './batcher.ts';
import { mappingOutages, type Sql } from './client.ts';
import { PROJECTION_NAMES, type ProjectionName } from './projections/projection.ts';
import { CHECKPOINT_CHANNEL } from './projections/runner.ts';
import {
  balances,
  history,
  projectionCheckpoints,
  type TransferRow,
  transfers,
} from './schema/read-models.ts';

/** Timestamps leave as ISO-8601 (PostgreSQL's text form is not what clients expect). */
const iso = (value: string) => new Date(value).toISOString();

/** `limit + 1` rows were asked for: one more than the page means there is a next page. */
const page = <Row>(rows: Row[], limit: number, positionOf: (row: Row) => number) => ({
  items: rows.slice(0, limit),
  nextCursor: rows.length > limit ? encodeCursor(positionOf(rows[limit - 1]!)) : null,
});

const transferView = (row: TransferRow): TransferView => ({
  transferId: row.transferId,
  fromAccountId: row.fromAccountId,
  toAccountId: row.toAccountId,
  amount: row.amount,
  currency: row.currency,
  status: row.status,
  ...(row.reason ? { reason: row.reason } : {}),
  ...(row.reference ? { reference: row.reference } : {}),
  createdAt: iso(row.createdAt),
  updatedAt: iso(row.updatedAt),
  timeline: row.timeline,
});

export type PostgresReadModel = ReturnType<typeof createReadModel>;

/** When no notification arrives, checkpoints are polled this often while waiting. */
const WAIT_POLL_MS = 200;

/**
 * The query side of SPEC §5–6 over the projections' tables: accounts, newest-first history and
 * transfer pages (keyset cursors), and waits for a position (read your writes). `store` gives
 * projectionLag its head position.
 */
export function createReadModel(sql_: Sql, options: { store?: Pick<EventStore, 'headPosition'> } = {}) {
  const db = drizzle(sql_);
  /** Each waiter's wake-up, and the one projection whose checkpoint it waits on (undefined: any). */
  const waiters = new Map<() => void, ProjectionName | undefined>();
  /** Bumped by every checkpoint notification: a reading taken since the last bump is current. */
  let generation = 0;
  let reading: { generation: number; position: Promise<number> } | undefined;
  let listener: Promise<{ unlisten(): Promise<void> } | null> | undefined;
  const listen = () => {
    listener ??= sql_
      .listen(CHECKPOINT_CHANNEL, (name) => {
        generation++;
        for (const [wake, only] of waiters) if (only === undefined || only === name) wake();
      })
      .catch(() => null); // no LISTEN (a pooler): polling alone still ends every wait
    return listener;
  };

  const checkpoints = async (): Promise<Record<ProjectionName, number>> => {
    const rows = await db
      .select()
      .from(projectionCheckpoints)
      .where(inArray(projectionCheckpoints.name, [...PROJECTION_NAMES]));
    return Object.fromEntries(
      PROJECTION_NAMES.map((name) => [name, rows.find((row) => row.name === name)?.position ?? 0]),
    ) as Record<ProjectionName, number>;
  };

  /** The position every read model has reached. */
  const position = async () => Math.min(...Object.values(await checkpoints()));

  /**
   * `position()` for waiters: all those woken by one notification share one query. A checkpoint
   * that moves after the query started sends a notification of its own, which wakes them again.
   */
  const currentPosition = () => {
    if (reading?.generation !== generation) {
      const pending = position();
      reading = { generation, position: pending };
      pending.catch(() => {
        if (reading?.position === pending) reading = undefined;
      });
    }
    return reading.position;
  };

  /**
   * Runs `check` until it answers (not null): at once, then after every checkpoint notification
   * (of `only`, when given; polling every WAIT_POLL_MS as a fallback), for at most `timeoutMs`.
   * Null when time ran out.
   */
  async function waitFor<T>(
    check: () => Promise<T | null>,
    timeoutMs: number,
    only?: ProjectionName,
  ): Promise<T | null> {
    const deadline = Date.now() + timeoutMs;
    await listen();
    for (;;) {
      let wake = () => {};
      const woken = new Promise<void>((resolve) => {
        wake = resolve;
      });
      waiters.set(wake, only);
      try {
        // Registered before the check: a notification in between still wakes this round.
        const answer = await check();
        if (answer !== null) return answer;
        const remaining = deadline - Date.now();
        if (remaining <= 0) return null;
        let timer: NodeJS.Timeout | undefined;
        await Promise.race([
          woken,
          new Promise<void>((resolve) => {
            timer = setTimeout(
              () => {
                generation++; // a poll: read afresh, as after a notification
                resolve();
              },
              Math.min(remaining, WAIT_POLL_MS),
            );
          }),
        ]);
        clearTimeout(timer);
      } finally {
        waiters.delete(wake);
      }
    }
  }

  /**
   * Transfer rows for waiters: the waiters one notification wakes look theirs up in one query
   * (createBatcher), not one query each per checkpoint move.
   */
  const transferById = createBatcher<string, TransferRow | undefined>({
    flush: async (ids) => {
      // One array parameter: one statement text (prepared once per connection) for any batch size.
      const rows = await db
        .select()
        .from(transfers)
        .where(sql`${transfers.transferId} = ANY(${sql.param(ids)}::text[]::uuid[])`);
      const byId = new Map(rows.map((row) => [row.transferId, row]));
      return ids.map((id) => byId.get(id));
    },
  });

  // Connection failures reach callers as the port's unavailable error (a 503), never as a driver code.
  return mappingOutages({
    async getAccount(accountId: string): Promise<{ account: AccountView | null; position: number }> {
      // One statement, so the row and the checkpoint come from one snapshot (every checkpoint row
      // exists from the first migration on). Drizzle makes `account` null when no row joins.
      const [row] = await db
        .select({
          position: projectionCheckpoints.position,
          account: {
            accountId: balances.accountId,
            currency: balances.currency,
            ownerId: balances.ownerId,
            status: balances.status,
            available: balances.available,
            pending: balances.pending,
            version: balances.version,
          },
        })
        .from(projectionCheckpoints)
        .leftJoin(balances, eq(balances.accountId, accountId))
        .where(eq(projectionCheckpoints.name, 'balances'));
      return row ?? { account: null, position: 0 };
    },

    /**
     * Balance-changing events of an account, newest first, with the history checkpoint read in
     * the same statement (one snapshot): the page beside its checkpoint row, joined laterally.
     */
    async getHistory(accountId: string, query: { limit: number; cursor?: number }) {
      const { accountId: _, ...columns } = getTableColumns(history);
      const entries = db
        .select(columns)
        .from(history)
        .where(
          and(
            eq(history.accountId, accountId),
            query.cursor === undefined ? undefined : lt(history.position, query.cursor),
          ),
        )
        .orderBy(desc(history.position))
        .limit(query.limit + 1)
        .as('entries');
      const rows = await db
        .select({
          reached: projectionCheckpoints.position,
          entry: {
            position: entries.position,
            kind: entries.kind,
            amount: entries.amount,
            availableAfter: entries.availableAfter,
            pendingAfter: entries.pendingAfter,
            transferId: entries.transferId,
            counterpartyAccountId: entries.counterpartyAccountId,
            reference: entries.reference,
            occurredAt: entries.occurredAt,
          },
        })
        .from(projectionCheckpoints)
        .leftJoinLateral(entries, sql`true`)
        .where(eq(projectionCheckpoints.name, 'history'))
        .orderBy(desc(entries.position));
      const items = rows.flatMap(({ entry }) =>
        entry ? [{ ...entry, occurredAt: iso(entry.occurredAt) }] : [],
      );
      return {
        page: page(items, query.limit, (item) => item.position),
        position: rows[0]?.reached ?? 0,
      };
    },

    async getTransfer(transferId: string): Promise<TransferView | null> {
      const [row] = await db.select().from(transfers).where(eq(transfers.transferId, transferId));
      return row ? transferView(row) : null;
    },

    /** Transfers newest first (by request), filtered by account, status and owner. */
    async listTransfers(query: TransferQuery) {
      const take = query.limit + 1;
      const conditions = (t: typeof transfers): SQL | undefined =>
        and(
          query.status ? eq(t.status, query.status) : undefined,
          query.cursor === undefined ? undefined : lt(t.requestedPosition, query.cursor),
        );
      const owned = (owner: string) =>
        sql`SELECT ${balances.accountId} FROM ${balances} WHERE ${balances.ownerId} = ${owner}`;
      // Through one account or an owner's accounts: at most a page per account and side, each from
      // its (account, position) index, instead of a walk down every transfer.
      const accounts = query.accountId
        ? sql`(SELECT ${query.accountId}::uuid AS account_id) a`
        : query.visibleToOwner !== undefined
          ? sql`(${owned(query.visibleToOwner)}) a`
          : undefined;
      const visibility =
        query.accountId && query.visibleToOwner !== undefined
          ? sql`(${transfers.fromAccountId} IN (${owned(query.visibleToOwner)}) OR ${transfers.toAccountId} IN (${owned(query.visibleToOwner)}))`
          : undefined;
      const side = (column: typeof transfers.fromAccountId | typeof transfers.toAccountId) => sql`
        SELECT s.transfer_id FROM ${accounts} CROSS JOIN LATERAL (
          SELECT ${transfers.transferId} FROM ${transfers}
          WHERE ${and(sql`${column} = a.account_id`, conditions(transfers), visibility)}
          ORDER BY ${transfers.requestedPosition} DESC LIMIT ${take}
        ) s`;
      const rows = await db
        .select()
        .from(transfers)
        .where(
          accounts
            ? inArray(
                transfers.transferId,
                sql`(${side(transfers.fromAccountId)} UNION ${side(transfers.toAccountId)})`,
              )
            : conditions(transfers),
        )
        .orderBy(desc(transfers.requestedPosition))
        .limit(take);
      const { items, nextCursor } = page(rows, query.limit, (row) => row.requestedPosition);
      return { items: items.map(transferView), nextCursor };
    },

    async transferCounts() {
      return db
        .select({ status: transfers.status, count: sql<number>`count(*)::int` })
        .from(transfers)
        .groupBy(transfers.status);
    },

    async ownerOfAccount(accountId: string): Promise<string | null> {
      const [row] = await db
        .select({ ownerId: balances.ownerId })
        .from(balances)
        .where(eq(balances.accountId, accountId));
      return row?.ownerId ?? null;
    },

    position,
    checkpoints,

    /** Each projection's checkpoint and how far it trails the store's head. */
    async projectionLag(): Promise<Record<ProjectionName, { position: number; lag: number }>> {
      if (!options.store)
        throw new Error('projectionLag needs the event store: createReadModel(sql, { store })');
      const [head, reached] = await Promise.all([options.store.headPosition(), checkpoints()]);
      return Object.fromEntries(
        PROJECTION_NAMES.map((name) => [
          name,
          { position: reached[name], lag: Math.max(0, head - reached[name]) },
        ]),
      ) as Record<ProjectionName, { position: number; lag: number }>;
    },

    /**
     * Waits (at most `timeoutMs`) until every read model (or `only` that one) has applied the event at `position`;
     * woken by the runners' notifications, polling as a fallback. False when time ran out.
     */
    async waitForPosition(target: number, timeoutMs: number, only?: ProjectionName): Promise<boolean> {
      const reached = async () => (only ? (await checkpoints())[only] : await currentPosition());
      return (
        (await waitFor(async () => ((await reached()) >= target ? true : null), timeoutMs, only)) ?? false
      );
    },

    /** The transfer once it has ended, looked at again whenever a checkpoint moves; null if still pending after `timeoutMs`. */
    waitForTransferEnd: (transferId: string, timeoutMs: number) =>
      waitFor(
        async () => {
          const row = await transferById(transferId);
          return row && row.status !== 'PENDING' ? transferView(row) : null;
        },
        timeoutMs,
        'transfers',
      ),

    /** Stops listening for checkpoint notifications (the pool itself belongs to the caller). */
    async close() {
      const active = await listener;
      listener = undefined;
      await active?.unlisten().catch(() => {});
    },
  });
}
