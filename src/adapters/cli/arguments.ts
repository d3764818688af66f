import { InvalidArgumentError } from 'commander';
import { parseTtl } from '../http/auth.ts';

/** Parsers for commander's `argParser`: a throw is a usage error (exit 2) naming the argument. */

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const STREAM = /^(account|transfer)-([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$/i;
const ISO_TIME =
  /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

export const parseUuid = (value: string): string => {
  if (!UUID.test(value)) throw new InvalidArgumentError('expected a UUID');
  return value.toLowerCase();
};

/** `account-<uuid>` or `transfer-<uuid>`, normalised to lower case. */
export const parseStreamName = (value: string): string => {
  const match = STREAM.exec(value);
  if (!match) throw new InvalidArgumentError('expected account-<uuid> or transfer-<uuid>');
  return `${match[1]!.toLowerCase()}-${match[2]!.toLowerCase()}`;
};

/**
 * An ISO-8601 date or date-time; one without a zone is UTC, so the answer does not depend on the
 * machine. Impossible dates (2030-02-30, 24:00) are refused rather than rolled over.
 */
export const parseTime = (value: string): Date => {
  const match = ISO_TIME.exec(value.trim());
  if (!match) throw new InvalidArgumentError('expected an ISO-8601 time, e.g. 2030-01-31T12:00:00Z');
  const [, date, hour = '00', minute = '00', second = '00', fraction = '', zone = 'Z'] = match;
  const wall = `${date}T${hour}:${minute}:${second}`;
  // The wall-clock reading must survive a round trip: Date.parse rolls 2030-02-30 over to March.
  const asUtc = Date.parse(`${wall}Z`);
  if (Number.isNaN(asUtc) || new Date(asUtc).toISOString().slice(0, 19) !== wall)
    throw new InvalidArgumentError('not a calendar date and time');
  const offset = zone.toUpperCase().replace(/^([+-]\d{2})(\d{2})$/, '$1:$2');
  const time = Date.parse(`${wall}${fraction.slice(0, 4)}${offset}`);
  if (Number.isNaN(time)) throw new InvalidArgumentError('expected an ISO-8601 time');
  return new Date(time);
};

/** A whole number ≥ 0 (revisions, positions). */
export const parseCount = (value: string): number => {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new InvalidArgumentError('expected a whole number');
  return Number(value);
};

/** A whole number ≥ 1 (batch sizes). */
export const parsePositive = (value: string): number => {
  const count = parseCount(value);
  if (count < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return count;
};

export type Until = { position: number } | { time: Date };

/** `--until`: digits are a global position, anything else must be an ISO-8601 time. */
export const parseUntil = (value: string): Until =>
  /^\d+$/.test(value) ? { position: parseCount(value) } : { time: parseTime(value) };

/** A token lifetime: plain seconds or 45s, 30m, 1h, 2d. */
export const parseTtlSeconds = (value: string): number => {
  const seconds = parseTtl(value);
  if (seconds === null) throw new InvalidArgumentError('expected a duration such as 3600, 45m, 1h or 2d');
  return seconds;
};

export const parseSubject = (value: string): string => {
  if (value.trim() === '') throw new InvalidArgumentError('must not be empty');
  return value;
};
