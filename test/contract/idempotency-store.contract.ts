import { describe, expect, it } from 'vitest';
import type { IdempotencyStore, KeyClaim } from '../../src/application/ports/idempotency-store.ts';

/** A store to test, and how to make time pass for it (the lease, or a key's whole lifetime). */
export type IdempotencyStoreFixture = {
  store: IdempotencyStore;
  /** Lets the lease of every held claim run out (its process died). */
  leasePasses(): Promise<void>;
  /** Lets `key`'s lifetime run out. */
  expire(key: string): Promise<void>;
};

/** The IdempotencyStore port's contract, for every adapter (memory, PostgreSQL). */
export function idempotencyStoreContract(name: string, fixture: () => Promise<IdempotencyStoreFixture>) {
  describe(`IdempotencyStore contract: ${name}`, () => {
    let n = 0;
    const claimOf = (requestHash = 'body-1'): KeyClaim => ({
      principal: 'alice',
      key: `key-${name}-${++n}`,
      requestHash,
    });

    it('claims a new key once: a second claim sees it in flight, then its answer', async () => {
      const { store } = await fixture();
      const claim = claimOf();
      const first = await store.claim(claim);
      expect(first.kind).toBe('claimed');
      expect(await store.claim(claim)).toEqual({ kind: 'in-flight', requestHash: 'body-1' });
      await store.answer(claim, { status: 201, body: '{"ok":true}', contentType: 'application/json' });
      expect(await store.claim({ ...claim, requestHash: 'body-2' })).toEqual({
        kind: 'answered',
        requestHash: 'body-1',
        answer: { status: 201, body: '{"ok":true}', contentType: 'application/json' },
      });
    });

    it('scopes keys per principal', async () => {
      const { store } = await fixture();
      const claim = claimOf();
      expect((await store.claim(claim)).kind).toBe('claimed');
      expect((await store.claim({ ...claim, principal: 'bob' })).kind).toBe('claimed');
    });

    it('a released claim goes to a retry of the same body with the same generation, never to another body', async () => {
      const { store } = await fixture();
      const claim = claimOf();
      const first = await store.claim(claim);
      await store.release(claim);
      expect((await store.claim({ ...claim, requestHash: 'other' })).kind).toBe('in-flight');
      expect(await store.claim(claim)).toEqual(first);
    });

    it('an abandoned claim is taken over after the lease by the same body, keeping its generation', async () => {
      const fix = await fixture();
      const claim = claimOf();
      const first = await fix.store.claim(claim);
      await fix.leasePasses();
      expect(await fix.store.claim(claim)).toEqual(first);
    });

    it('a taken-over claim keeps the lifetime counted from its first claim', async () => {
      const fix = await fixture();
      const claim = claimOf();
      const first = await fix.store.claim(claim);
      await fix.store.release(claim);
      expect(await fix.store.claim(claim)).toEqual(first);
      await fix.expire(claim.key);
      const later = await fix.store.claim(claim);
      expect(later.kind).toBe('claimed');
      expect(later).not.toEqual(first);
    });

    it('a renewed claim is not taken over', async () => {
      const fix = await fixture();
      const claim = claimOf();
      await fix.store.claim(claim);
      await fix.leasePasses();
      await fix.store.renew(claim);
      expect((await fix.store.claim(claim)).kind).toBe('in-flight');
    });

    it('a key claimed again after it expired gets a new generation, and expired keys are swept', async () => {
      const fix = await fixture();
      const claim = claimOf();
      const first = await fix.store.claim(claim);
      await fix.store.answer(claim, { status: 201, body: '{}', contentType: null });
      await fix.expire(claim.key);
      const again = await fix.store.claim({ ...claim, requestHash: 'tomorrow' });
      expect(again.kind).toBe('claimed');
      expect(again).not.toEqual(first);
      await fix.expire(claim.key);
      expect(await fix.store.sweep()).toBeGreaterThanOrEqual(1);
    });
  });
}
