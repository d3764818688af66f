import { afterAll, describe, expect, it } from 'vitest';
import { createSql } from '../../src/adapters/postgres/client.ts';
import { createPostgresEventStore } from '../../src/adapters/postgres/event-store.ts';
import { createPostgresIdempotencyStore } from '../../src/adapters/postgres/idempotency-store.ts';
import { createReadModel } from '../../src/adapters/postgres/read-model.ts';
import { createPostgresSagaStore } from '../../src/adapters/postgres/saga-store.ts';
import { EventStoreUnavailableError } from '../../src/application/ports/event-store.ts';
import { isTransient } from '../../src/application/retry.ts';

/**
 * Every PostgreSQL adapter turns "the database cannot be reached" into the port's unavailable
 * error, whether the driver's error comes bare (postgres.js) or wrapped (Drizzle's
 * DrizzleQueryError): the saga waits such an outage out instead of parking an event, and the API
 * answers 503 instead of 500.
 */
describe('PostgreSQL adapters during an outage', () => {
  // Nothing listens on port 1: every connection is refused at once.
  const sql = createSql('postgres://postgres@127.0.0.1:1/esbank', { max: 1 });
  afterAll(async () => {
    await sql.end({ timeout: 1 });
  });

  const unavailable = async (work: () => Promise<unknown>) => {
    const error = await work().then(
      () => null,
      (failure: unknown) => failure,
    );
    expect(error).toBeInstanceOf(EventStoreUnavailableError);
    expect(isTransient(error)).toBe(true);
  };

  it('the saga store (Drizzle)', async () => {
    const sagaStore = createPostgresSagaStore(sql);
    await unavailable(() => sagaStore.schedule('3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f', new Date()));
    await unavailable(() => sagaStore.claimDue(new Date(), 10, 1_000));
  });

  it('the read model (Drizzle)', async () => {
    const readModel = createReadModel(sql);
    await unavailable(() => readModel.getAccount('3f1c2a9e-8d7b-4c6a-9e5f-1a2b3c4d5e6f'));
    await unavailable(() => readModel.transferCounts());
  });

  it('the idempotency store and the event store (postgres.js)', async () => {
    await unavailable(() =>
      createPostgresIdempotencyStore(sql).claim({ principal: 'p', key: 'k', requestHash: 'h' }),
    );
    const store = createPostgresEventStore(sql);
    await unavailable(() => store.readStream('account-1'));
    await store.close();
  });
});
