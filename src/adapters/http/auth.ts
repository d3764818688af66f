import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MiddlewareHandler } from 'hono';
import { sign, verify } from 'hono/jwt';
import type { Config } from '../../config.ts';
import type { AppEnv } from './context.ts';
import { HttpProblem } from './problem.ts';
import { isStorableText } from './schemas.ts';

export type Role = 'customer' | 'operator';
/** The authenticated caller: the JWT's `sub` and `role` (SPEC §9). */
export type Principal = { sub: string; role: Role };

/**
 * SPEC §9's one access rule: an operator may see and act on every account, a customer on its own.
 * An unknown owner (no such account) is refused too; callers answer 404 so existence is not leaked.
 */
export const mayAccess = (principal: Principal, ownerId: string | null | undefined): boolean =>
  ownerId !== null && ownerId !== undefined && (principal.role === 'operator' || ownerId === principal.sub);

const ALGORITHM = 'HS256';

/**
 * AUTH_JWT_SECRET, or a secret generated once under ESBANK_HOME (mode 0600) for the embedded
 * default, so `esbank token` and `esbank serve` agree without configuration.
 */
export async function resolveJwtSecret(
  config: Pick<Config, 'AUTH_JWT_SECRET' | 'ESBANK_HOME'>,
): Promise<string> {
  if (config.AUTH_JWT_SECRET) return config.AUTH_JWT_SECRET;
  const file = join(config.ESBANK_HOME, 'jwt-secret');
  await mkdir(config.ESBANK_HOME, { recursive: true });
  try {
    await writeFile(file, randomBytes(32).toString('base64url'), { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as { code?: string }).code !== 'EEXIST') throw error;
  }
  return (await readFile(file, 'utf8')).trim();
}

/** `1h`, `30m`, `45s`, `2d` or plain seconds. */
export function parseTtl(ttl: string): number | null {
  const match = /^(\d+)([smhd]?)$/.exec(ttl.trim());
  if (!match) return null;
  const unit = { '': 1, s: 1, m: 60, h: 3600, d: 86_400 }[match[2] as '' | 's' | 'm' | 'h' | 'd'];
  const seconds = Number(match[1]) * unit;
  return seconds > 0 ? seconds : null;
}

export async function mintToken(
  claims: { sub: string; role?: Role; ttlSeconds?: number },
  secret: string,
  now = Date.now(),
): Promise<string> {
  const iat = Math.floor(now / 1000);
  return sign(
    { sub: claims.sub, role: claims.role ?? 'customer', iat, exp: iat + (claims.ttlSeconds ?? 3600) },
    secret,
    ALGORITHM,
  );
}

/** RFC 6750: a request without a token gets the bare challenge; a rejected token is told why. */
const unauthorized = (detail: string, invalidToken = true) =>
  new HttpProblem(401, 'unauthorized', 'Unauthorized', detail, {
    headers: {
      'WWW-Authenticate': invalidToken
        ? `Bearer realm="esbank", error="invalid_token", error_description="${detail}"`
        : 'Bearer realm="esbank"',
    },
  });

/** Tokens already verified, with their expiry: HS256 verification costs ~0.25 ms of CPU each time. */
const VERIFIED_CACHE_SIZE = 10_000;

/**
 * Requires `Authorization: Bearer <JWT>` (scheme case-insensitive, RFC 7235) signed with HS256 (no
 * `alg: none`, no other algorithm), unexpired when it has an `exp`, not used before its `nbf`/`iat`.
 */
export function authenticate(secret: string, now = () => Date.now()): MiddlewareHandler<AppEnv> {
  const verified = new Map<string, { principal: Principal; expiresAt: number }>();
  return async (c, next) => {
    const header = c.req.header('authorization') ?? '';
    if (header.trim() === '') throw unauthorized('A bearer token is required', false);
    const match = /^Bearer +([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*) *$/i.exec(header);
    if (!match) throw unauthorized('The Authorization header must be: Bearer <JWT>');
    const known = verified.get(match[1]!);
    if (known && known.expiresAt > now()) {
      c.set('principal', known.principal);
      return next();
    }
    let payload: Record<string, unknown>;
    try {
      payload = await verify(match[1]!, secret, ALGORITHM);
    } catch {
      throw unauthorized('The token is invalid or expired');
    }
    const role = payload.role ?? 'customer';
    if (
      typeof payload.sub !== 'string' ||
      payload.sub.length === 0 ||
      payload.sub.length > 200 ||
      !isStorableText(payload.sub) ||
      (role !== 'customer' && role !== 'operator')
    ) {
      throw unauthorized('The token lacks a subject or has an unknown role');
    }
    // verify() checks `exp` against the system clock; the injected one decides for the cache too.
    const expiresAt = typeof payload.exp === 'number' ? payload.exp * 1000 : Number.POSITIVE_INFINITY;
    if (expiresAt <= now()) throw unauthorized('The token has expired');
    const principal: Principal = { sub: payload.sub, role };
    if (verified.size >= VERIFIED_CACHE_SIZE) verified.clear();
    verified.set(match[1]!, { principal, expiresAt });
    c.set('principal', principal);
    await next();
  };
}
