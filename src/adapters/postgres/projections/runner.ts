import { drizzle } from 'drizzle-orm/postgres-js';
import type { EventStore, Subscription } from '../../../application/ports/event-store.ts';
import type { AppLogger } from '../../../application/ports/logger.ts';
import type { Sql } from '../client.ts';
import { balancesProjection } from './balances.ts';
import { historyProjection } from './history.ts';
import { applyBatch, type Projection, type ProjectionName, ProjectionRewoundError } from './projection.ts';
import { transfersProjection } from './transfers.ts';

export const PROJECTIONS: readonly Projection[] = [
  balancesProjection,
  historyProjection,
  transfersProjection,
];

export const projectionByName = (name: string): Projection | undefined =>
  PROJECTIONS.find((projection) => projection.name === name);

export type ProjectionRunners = {
  stop(): Promise<void>;
  /** The position each projection has applied up to. */
  positions(): Record<ProjectionName, number>;
};

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * One runner per read model: a subscription from the projection's own checkpoint whose every
 * batch is applied together with the checkpoint (see applyBatch). A failure (the database down)
 * restarts the runner from its checkpoint with backoff.
 */
export function startProjections(options: {
  store: EventStore;
  sql: Sql;
  logger: AppLogger;
  batchSize?: number;
  projections?: readonly Projection[];
}): ProjectionRunners {
  const db = drizzle(options.sql);
  const positions = {} as Record<ProjectionName, number>;
  const subscriptions = new Map<ProjectionName, Subscription>();
  let stopping = false;

  const run = async (projection: Projection) => {
    for (let failures = 0; !stopping; ) {
      try {
        const [row] = await options.sql<{ position: number }[]>`
          SELECT position FROM projection_checkpoints WHERE name = ${projection.name}`;
        positions[projection.name] = row?.position ?? 0;
        const subscription = options.store.subscribe({
          after: positions[projection.name],
          batchSize: options.batchSize ?? 1000,
          handle: async (events) => {
            positions[projection.name] = await applyBatch(db, projection, events, positions[projection.name]);
          },
        });
        subscriptions.set(projection.name, subscription);
        if (stopping) await subscription.stop();
        await subscription.done;
        failures = 0;
      } catch (error) {
        if (error instanceof ProjectionRewoundError) continue;
        failures++;
        options.logger.warn(
          { err: error, projection: projection.name, failures },
          'projection failed; restarting',
        );
        await sleep(Math.min(5_000, 100 * 2 ** failures));
      }
    }
  };

  const running = (options.projections ?? PROJECTIONS).map(run);
  return {
    async stop() {
      stopping = true;
      await Promise.all([...subscriptions.values()].map((subscription) => subscription.stop()));
      await Promise.all(running);
    },
    positions: () => ({ ...positions }),
  };
}
