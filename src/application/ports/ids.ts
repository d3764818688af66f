import { randomUUID } from 'node:crypto';

/** Server-generated identifiers (UUIDs). */
export type IdGenerator = { newId: () => string };

export const randomIds: IdGenerator = { newId: randomUUID };
