import { and, desc, eq, inArray, lt, or, sql as raw, type SQL } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import type { Sql } from './client.ts';
import { balances, history, projectionCheckpoints, transfers } from './schema/read-models.ts';

const encodeCursor = (position: number) => Buffer.from(String(position)).toString('base64url');

/** An opaque cursor is a position; anything else is a bad cursor (null). */
export const decodeCursor = (cursor: string): number | null => {
  const value = Number(Buffer.from(cursor, 'base64url').toString());
  return Number.isSafeInteger(value) && value > 0 ? value : null;
};

/** Timestamps leave as ISO-8601 (PostgreSQL's text form is not what clients expect). */
const iso = (value: string) => new Date(value).toISOString();

const page = <Row>(rows: Row[], limit: number, positionOf: (row: Row) => number) => ({
  items: rows.slice(0, limit),
  nextCursor: rows.length > limit ? encodeCursor(positionOf(rows[limit - 1]!)) : null,
});

export type ReadModel = ReturnType<typeof createReadModel>;

/** Queries over the projections (SPEC §5–6). */
export function createReadModel(sql: Sql) {
  const db = drizzle(sql);

  const transferView = (row: typeof transfers.$inferSelect) => ({
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

  return {
    async getAccount(accountId: string) {
      const [row] = await db.select().from(balances).where(eq(balances.accountId, accountId));
      if (!row) return null;
      const { accountId: id, currency, ownerId, status, available, pending, version } = row;
      return { accountId: id, currency, ownerId, status, available, pending, version };
    },

    async getHistory(accountId: string, options: { limit: number; cursor?: number }) {
      const rows = await db
        .select()
        .from(history)
        .where(
          and(
            eq(history.accountId, accountId),
            options.cursor ? lt(history.position, options.cursor) : undefined,
          ),
        )
        .orderBy(desc(history.position))
        .limit(options.limit + 1);
      return page(
        rows.map(({ accountId: _, occurredAt, ...item }) => ({ ...item, occurredAt: iso(occurredAt) })),
        options.limit,
        (row) => row.position,
      );
    },

    async getTransfer(transferId: string) {
      const [row] = await db.select().from(transfers).where(eq(transfers.transferId, transferId));
      return row ? transferView(row) : null;
    },

    async listTransfers(options: {
      accountId?: string;
      status?: string;
      limit: number;
      cursor?: number;
      visibleToOwner?: string;
    }) {
      const filters: (SQL | undefined)[] = [
        options.accountId
          ? or(eq(transfers.fromAccountId, options.accountId), eq(transfers.toAccountId, options.accountId))
          : undefined,
        options.status ? eq(transfers.status, options.status as 'PENDING') : undefined,
        options.cursor ? lt(transfers.requestedPosition, options.cursor) : undefined,
      ];
      if (options.visibleToOwner !== undefined) {
        const owned = db
          .select({ id: balances.accountId })
          .from(balances)
          .where(eq(balances.ownerId, options.visibleToOwner));
        filters.push(or(inArray(transfers.fromAccountId, owned), inArray(transfers.toAccountId, owned)));
      }
      const rows = await db
        .select()
        .from(transfers)
        .where(and(...filters))
        .orderBy(desc(transfers.requestedPosition))
        .limit(options.limit + 1);
      const { items, nextCursor } = page(rows, options.limit, (row) => row.requestedPosition);
      return { items: items.map(transferView), nextCursor };
    },

    async ownerOfAccount(accountId: string): Promise<string | null> {
      const [row] = await db
        .select({ ownerId: balances.ownerId })
        .from(balances)
        .where(eq(balances.accountId, accountId));
      return row?.ownerId ?? null;
    },

    /** The position every read model has reached. */
    async position(): Promise<number> {
      const [row] = await db
        .select({ min: raw<number>`min(${projectionCheckpoints.position})::bigint` })
        .from(projectionCheckpoints);
      return Number(row?.min ?? 0);
    },

    async checkpoints(): Promise<Record<string, number>> {
      const rows = await db.select().from(projectionCheckpoints);
      return Object.fromEntries(rows.map((row) => [row.name, row.position]));
    },

    /** Waits (bounded) until every read model has applied the event at `position`. */
    async waitForPosition(position: number, timeoutMs: number): Promise<boolean> {
      const deadline = Date.now() + timeoutMs;
      for (let pause = 5; ; pause = Math.min(50, pause * 2)) {
        if ((await this.position()) >= position) return true;
        if (Date.now() >= deadline) return false;
        await new Promise((resolve) => setTimeout(resolve, pause));
      }
    },
  };
}
