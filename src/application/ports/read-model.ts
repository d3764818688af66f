/** What the queries answer (SPEC §5); the read models behind them are projections of the log. */
export type AccountView = {
  accountId: string;
  currency: string;
  ownerId: string;
  status: 'OPEN' | 'CLOSED';
  available: number;
  pending: number;
  version: number;
};

export type HistoryItem = {
  position: number;
  kind: string;
  amount: number;
  availableAfter: number;
  pendingAfter: number;
  transferId: string | null;
  counterpartyAccountId: string | null;
  reference: string | null;
  occurredAt: string;
};

export type TransferStatus = 'PENDING' | 'COMPLETED' | 'CANCELLED';

export type TransferView = {
  transferId: string;
  fromAccountId: string;
  toAccountId: string;
  amount: number;
  currency: string;
  status: TransferStatus;
  reason?: string;
  reference?: string;
  createdAt: string;
  updatedAt: string;
  timeline: Array<{ step: string; at: string; position: number }>;
};

export type TransferQuery = {
  accountId?: string;
  status?: TransferStatus;
  limit: number;
  /** From a previous page's `nextCursor`, decoded. */
  cursor?: number;
  /** Only transfers from or to an account of this owner (a customer's view). */
  visibleToOwner?: string;
};

/** A page, newest first; `nextCursor` (opaque to clients) continues it. */
export type Page<Item> = { items: Item[]; nextCursor: string | null };

/** The queries the API answers, and how far the projections behind them have got. */
/** The read models (SPEC §5), each kept by its own projection. */
export type ReadModelName = 'balances' | 'history' | 'transfers';

export type ReadModel = {
  /**
   * The account as the balances read model shows it, and that read model's checkpoint read in the
   * same snapshot: the answer reflects every event up to `position`.
   */
  getAccount(accountId: string): Promise<{ account: AccountView | null; position: number }>;
  /** A page of the account's history, and the history checkpoint read in the same snapshot (as getAccount). */
  getHistory(
    accountId: string,
    query: { limit: number; cursor?: number },
  ): Promise<{ page: Page<HistoryItem>; position: number }>;
  getTransfer(transferId: string): Promise<TransferView | null>;
  listTransfers(query: TransferQuery): Promise<Page<TransferView>>;
  ownerOfAccount(accountId: string): Promise<string | null>;
  /** How many transfers there are of each status (for /metrics). */
  transferCounts(): Promise<Array<{ status: string; count: number }>>;
  /** The log position each projection has applied up to. */
  checkpoints(): Promise<Record<string, number>>;
  /**
   * Waits (bounded) until every projection, or only the one named (the one a query reads), has
   * applied `position`; false when time ran out.
   */
  waitForPosition(position: number, timeoutMs: number, readModel?: ReadModelName): Promise<boolean>;
  /** The transfer as soon as the read model shows it ended (not PENDING); null if it has not within `timeoutMs`. */
  waitForTransferEnd(transferId: string, timeoutMs: number): Promise<TransferView | null>;
  close(): Promise<void>;
};

/** Cursors are opaque to clients: a position, base64url-encoded. */
export const encodeCursor = (position: number): string => Buffer.from(String(position)).toString('base64url');

/** The position inside a cursor this API gave out; null for anything else. */
export const decodeCursor = (cursor: string): number | null => {
  const text = Buffer.from(cursor, 'base64url').toString();
  const value = Number(text);
  return /^[1-9]\d*$/.test(text) && Number.isSafeInteger(value) ? value : null;
};
