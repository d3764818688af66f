/** One principal's Idempotency-Key for one request body (SPEC §6, §9: keys are scoped per principal). */
export type KeyClaim = { principal: string; key: string; requestHash: string };

/** The first answer to a key, replayed as it was. */
export type StoredAnswer = { status: number; body: string; contentType: string | null };

/** What a claim found. */
export type ClaimOutcome =
  /** The request holds the key now; `generation` names this lifetime of it (see ClaimedKey). */
  | { kind: 'claimed'; generation: string }
  /** An earlier request answered: replay it (or refuse another body). */
  | { kind: 'answered'; requestHash: string; answer: StoredAnswer }
  /** An earlier request with the key is still running (its claim is being renewed). */
  | { kind: 'in-flight'; requestHash: string }
  /** Nobody holds it any more (released or swept between two looks): claim again. */
  | { kind: 'free' };

/**
 * Idempotency-Key records, kept at least `ttlHours` (24). A claim is held while its request runs
 * and renewed by it; one not renewed for the lease (its process died) is taken over by a retry with
 * the same body. A key keeps its generation until it expires: a released claim (a 5xx) and a
 * taken-over one keep it, a key claimed again after it expired gets a new one.
 */
export type IdempotencyStore = {
  claim(claim: KeyClaim): Promise<ClaimOutcome>;
  /** Keeps a held claim alive (the request is still running). */
  renew(claim: KeyClaim): Promise<void>;
  /** Stores the answer of a held claim. */
  answer(claim: KeyClaim, answer: StoredAnswer): Promise<void>;
  /** Gives a held claim up at once to a retry of the same body (the request failed: it may or may not have run). */
  release(claim: KeyClaim): Promise<void>;
  /** Drops expired keys; returns how many. */
  sweep(): Promise<number>;
};
