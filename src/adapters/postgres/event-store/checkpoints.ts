import type { Sql } from '../client.ts';
import { guard } from './rows.ts';

/** Durable subscription checkpoints: a position per name, that only moves forward. */
export function createCheckpoints(sql: Sql) {
  return {
    readCheckpoint: (name: string): Promise<number | null> =>
      guard(async () => {
        const [row] = await sql<{ position: number }[]>`
          SELECT position FROM subscription_checkpoints WHERE name = ${name}`;
        return row?.position ?? null;
      }),

    async storeCheckpoint(name: string, position: number): Promise<void> {
      await guard(
        () => sql`
          INSERT INTO subscription_checkpoints (name, position) VALUES (${name}, ${position})
          ON CONFLICT (name) DO UPDATE
            SET position = GREATEST(subscription_checkpoints.position, excluded.position), updated_at = now()`,
      );
    },
  };
}
