import { eq } from 'drizzle-orm';
import type { PostgresJsDatabase } from 'drizzle-orm/postgres-js';
import type { RecordedEvent } from '../../../application/ports/event-store.ts';
import { projectionCheckpoints } from '../schema/read-models.ts';

export type Database = PostgresJsDatabase;
export type Transaction = Parameters<Parameters<Database['transaction']>[0]>[0];

export type ProjectionName = 'balances' | 'history' | 'transfers';

/** A read model fed from the log: applies one batch inside the caller's transaction. */
export type Projection = {
  name: ProjectionName;
  apply(tx: Transaction, events: RecordedEvent[]): Promise<void>;
};

/**
 * Applies `events` and moves the projection's checkpoint in one transaction. The checkpoint row
 * is locked first and events at or below it are dropped, so concurrent runners (several
 * instances) never apply an event twice and a crash never skips one.
 */
export async function applyBatch(
  db: Database,
  projection: Projection,
  events: RecordedEvent[],
  /** Where this runner believes the checkpoint is; a lower checkpoint means a replay rewound it. */
  expectedFrom = 0,
): Promise<number> {
  return db.transaction(async (tx) => {
    const [checkpoint] = await tx
      .select({ position: projectionCheckpoints.position })
      .from(projectionCheckpoints)
      .where(eq(projectionCheckpoints.name, projection.name))
      .for('update');
    const from = checkpoint?.position ?? 0;
    if (from < expectedFrom) throw new ProjectionRewoundError(projection.name, from);
    const fresh = events.filter((event) => event.position > from);
    if (fresh.length === 0) return from;
    await projection.apply(tx, fresh);
    const position = fresh[fresh.length - 1]!.position;
    await tx
      .insert(projectionCheckpoints)
      .values({ name: projection.name, position })
      .onConflictDoUpdate({ target: projectionCheckpoints.name, set: { position } });
    return position;
  });
}

/** The checkpoint moved back (`esbank replay --until`): the runner restarts from it. */
export class ProjectionRewoundError extends Error {
  override readonly name = 'ProjectionRewoundError';

  constructor(
    readonly projection: ProjectionName,
    readonly position: number,
  ) {
    super(`Projection ${projection} was rewound to ${position}`);
  }
}

const num = (value: unknown) => Number(value);

/** How an account event moves its balance; null for events that move nothing. */
export function balanceEffect(event: RecordedEvent): { available: number; pending: number } | null {
  const amount = num(event.data.amount);
  switch (event.type) {
    case 'CashDeposited':
    case 'TransferDebitRefunded':
      return { available: amount, pending: 0 };
    case 'CashWithdrawn':
    case 'TransferDebited':
      return { available: -amount, pending: 0 };
    case 'TransferCreditHeld':
      return { available: 0, pending: amount };
    case 'TransferCreditReleased':
      return { available: amount, pending: -amount };
    case 'TransferCreditCancelled':
      return { available: 0, pending: -amount };
    default:
      return null;
  }
}

export const isAccountEvent = (event: RecordedEvent) => event.streamName.startsWith('account-');
export const isTransferEvent = (event: RecordedEvent) => event.streamName.startsWith('transfer-');
