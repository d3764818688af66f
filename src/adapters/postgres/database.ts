import { randomBytes } from 'node:crypto';
import postgres from 'postgres';

export type ScratchDatabase = { url: string; drop(): Promise<void> };

const adminClient = (adminUrl: string) => postgres(adminUrl, { max: 1, onnotice: () => {} });

/**
 * A new empty database named `<prefix>_<random hex>` on the server of `adminUrl` (any database
 * there whose user may create databases); `drop()` drops it even while connections remain.
 */
export async function createScratchDatabase(adminUrl: string, prefix: string): Promise<ScratchDatabase> {
  const name = `${prefix}_${randomBytes(6).toString('hex')}`;
  const admin = adminClient(adminUrl);
  try {
    await admin.unsafe(`CREATE DATABASE ${name}`);
  } finally {
    await admin.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const dropper = adminClient(adminUrl);
      try {
        await dropper.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      } finally {
        await dropper.end();
      }
    },
  };
}
