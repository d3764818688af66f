import { randomUUID } from 'node:crypto';
import type {
  ClaimOutcome,
  IdempotencyStore,
  KeyClaim,
  StoredAnswer,
} from '../../application/ports/idempotency-store.ts';

type Entry = {
  requestHash: string;
  generation: string;
  answer: StoredAnswer | null;
  /** When the claim was last renewed; 0 once released. */
  heldAt: number;
  expiresAt: number;
};

/** The idempotency store in process memory, for tests and the memory profile; `now` is its clock. */
export function createInMemoryIdempotencyStore({
  ttlHours = 24,
  leaseSeconds = 5,
  now = () => Date.now(),
}: {
  ttlHours?: number;
  leaseSeconds?: number;
  now?: () => number;
} = {}): IdempotencyStore {
  const entries = new Map<string, Entry>();
  const slot = ({ principal, key }: KeyClaim) => `${principal}\n${key}`;
  const held = (claim: KeyClaim) => {
    const entry = entries.get(slot(claim));
    return entry && entry.requestHash === claim.requestHash && entry.answer === null ? entry : undefined;
  };

  return {
    async claim(claim): Promise<ClaimOutcome> {
      const at = now();
      const entry = entries.get(slot(claim));
      const expired = entry !== undefined && entry.expiresAt < at;
      const abandoned =
        entry !== undefined &&
        entry.answer === null &&
        entry.requestHash === claim.requestHash &&
        entry.heldAt < at - leaseSeconds * 1000;
      if (entry === undefined || expired || abandoned) {
        // A taken-over or released claim keeps its generation and its lifetime (from the first claim).
        const fresh = entry === undefined || expired;
        const generation = fresh ? randomUUID() : entry.generation;
        entries.set(slot(claim), {
          requestHash: claim.requestHash,
          generation,
          answer: null,
          heldAt: at,
          expiresAt: fresh ? at + ttlHours * 3_600_000 : entry.expiresAt,
        });
        return { kind: 'claimed', generation };
      }
      return entry.answer === null
        ? { kind: 'in-flight', requestHash: entry.requestHash }
        : { kind: 'answered', requestHash: entry.requestHash, answer: entry.answer };
    },
    async renew(claim) {
      const entry = held(claim);
      if (entry) entry.heldAt = now();
    },
    async answer(claim, answer) {
      const entry = held(claim);
      if (entry) entry.answer = answer;
    },
    async release(claim) {
      const entry = held(claim);
      if (entry) entry.heldAt = 0;
    },
    async sweep() {
      let dropped = 0;
      for (const [name, entry] of entries) {
        if (entry.expiresAt < now()) {
          entries.delete(name);
          dropped++;
        }
      }
      return dropped;
    },
  };
}
