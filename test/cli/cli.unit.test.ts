import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import {
  parseStreamName,
  parseTime,
  parseTtlSeconds,
  parseUntil,
  parseUuid,
} from '../../src/adapters/cli/arguments.ts';
import { CliFailure } from '../../src/adapters/cli/database.ts';
import { streamAsOf } from '../../src/adapters/cli/inspect.ts';
import { describeFailure, runCli } from '../../src/adapters/cli/main.ts';
import { EventStoreUnavailableError } from '../../src/application/ports/event-store.ts';
import { ConfigError } from '../../src/config.ts';

const ID = '3F1C2A9E-8D7B-4C6A-9E5F-1A2B3C4D5E6F';

describe('argument parsers', () => {
  it.each([
    ['2030-01-31', '2030-01-31T00:00:00.000Z'],
    ['2030-01-31T12:30', '2030-01-31T12:30:00.000Z'],
    ['2030-01-31T12:30:15.25Z', '2030-01-31T12:30:15.250Z'],
    ['2030-01-31 12:30:15+02:00', '2030-01-31T10:30:15.000Z'],
    ['2030-01-31T12:30:15-0130', '2030-01-31T14:00:15.000Z'],
    ['2028-02-29T23:59:59Z', '2028-02-29T23:59:59.000Z'],
  ])('time %s is %s (no zone means UTC)', (input, iso) => {
    expect(parseTime(input).toISOString()).toBe(iso);
  });

  it.each([
    'yesterday',
    '',
    '2030-02-30',
    '2029-02-29T00:00:00Z',
    '2030-13-01',
    '2030-01-01T24:00:00Z',
    '2030-01-01T12:60Z',
    '2030-1-1',
    '1893456000000x',
  ])('time %j is refused, not rolled over', (input) => {
    expect(() => parseTime(input)).toThrow();
  });

  it('--until takes a global position or a time', () => {
    expect(parseUntil('42')).toEqual({ position: 42 });
    expect(parseUntil('2030-01-01T00:00:00Z')).toEqual({ time: new Date('2030-01-01T00:00:00Z') });
    expect(() => parseUntil('-1')).toThrow();
    expect(() => parseUntil('99999999999999999999')).toThrow();
  });

  it('ids and stream names are UUID-based and normalised to lower case', () => {
    expect(parseUuid(ID)).toBe(ID.toLowerCase());
    expect(parseStreamName(`Account-${ID}`)).toBe(`account-${ID.toLowerCase()}`);
    expect(() => parseUuid('not-a-uuid')).toThrow();
    for (const bad of ['account-1', `ledger-${ID}`, ID, `account-${ID}-x`]) {
      expect(() => parseStreamName(bad)).toThrow();
    }
  });

  it('token lifetimes are positive durations', () => {
    expect([parseTtlSeconds('90'), parseTtlSeconds('45m'), parseTtlSeconds('2d')]).toEqual([
      90, 2700, 172_800,
    ]);
    for (const bad of ['0', 'forever', '-5m', '1w']) expect(() => parseTtlSeconds(bad)).toThrow();
  });
});

describe('runCli exit codes (in process, before any database work)', () => {
  let stdout: string;
  let stderr: string;
  beforeEach(() => {
    stdout = '';
    stderr = '';
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
      stdout += String(chunk);
      return true;
    });
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => {
      stderr += String(chunk);
      return true;
    });
  });
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it.each([
    [[], 'esbank'],
    [['serve', 'extra'], 'esbank serve'],
    [['migrate', '--json'], 'esbank migrate'],
    [['replay', '--batch-size', '0'], 'esbank replay'],
    [['replay', '--batch-size', '1.5'], 'esbank replay'],
    [['replay', '--until', '2030-01-01T25:00:00Z'], 'esbank replay'],
    [['replay', '--until'], 'esbank replay'],
    [['events', `account-${ID}`, '--from', '-1'], 'esbank events'],
    [['events', ID], 'esbank events'],
    [['account', ID, '--at', '2030-02-30'], 'esbank account'],
    [['account', '--at', '2030-01-01'], 'esbank account'],
    [['snapshot', '--all', `account-${ID}`], 'esbank snapshot'],
    [['snapshot', 'transfer-42'], 'esbank snapshot'],
    [['token', '--sub', ''], 'esbank token'],
    [['token', '--sub', 'x', '--role', 'admin'], 'esbank token'],
    [['token', '--sub', 'x', '--ttl', '0'], 'esbank token'],
  ])('%j → 2 with the usage of %s on stderr', async (argv, usage) => {
    expect(await runCli(argv)).toBe(2);
    expect(stderr).toContain(`Usage: ${usage} `);
    expect(stdout).toBe('');
  });

  it.each([[['--help']], [['replay', '--help']], [['help', 'account']]])(
    '%j → 0 with help on stdout',
    async (argv) => {
      expect(await runCli(argv)).toBe(0);
      expect(stdout).toMatch(/^Usage: esbank/);
      expect(stderr).toBe('');
    },
  );

  it('--version prints the package version', async () => {
    expect(await runCli(['--version'])).toBe(0);
    expect(stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe('failure reasons are one line', () => {
  const refused = Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' });

  it.each([
    [refused, 'database unreachable (connect ECONNREFUSED 127.0.0.1:1)'],
    [
      new EventStoreUnavailableError('The event store is unreachable', { cause: refused }),
      'database unreachable (connect ECONNREFUSED 127.0.0.1:1)',
    ],
    [
      Object.assign(new Error('getaddrinfo ENOTFOUND db.invalid'), { code: 'ENOTFOUND' }),
      'database unreachable (getaddrinfo ENOTFOUND db.invalid)',
    ],
    [
      Object.assign(new Error('database "x" does not exist'), { code: '3D000' }),
      'database unreachable (database "x" does not exist)',
    ],
    [
      Object.assign(new TypeError('Invalid URL'), { code: 'ERR_INVALID_URL' }),
      'DATABASE_URL is not a valid URL',
    ],
    [
      new ConfigError('Invalid configuration: PORT: expected number'),
      'Invalid configuration: PORT: expected number',
    ],
    [new CliFailure('stream account-x does not exist'), 'stream account-x does not exist'],
    [new Error('first line\n    at stack (frame.ts:1:1)'), 'first line'],
  ])('%s → %s', (error, reason) => {
    expect(describeFailure(error)).toBe(reason);
  });
});

describe('account --at: the stream as it stood at a time', () => {
  // occurredAt is taken before conflict retries, so it is not monotone in revision.
  const stream = [
    { revision: 0, metadata: { occurredAt: '2030-01-01T00:00:00.000Z' } },
    { revision: 1, metadata: { occurredAt: '2030-01-01T00:00:05.000Z' } }, // took 5 s of retries
    { revision: 2, metadata: { occurredAt: '2030-01-01T00:00:03.000Z' } },
    { revision: 3, metadata: { occurredAt: '2030-01-01T00:00:09.000Z' } },
  ];
  const revisions = (at: string) => streamAsOf(stream, new Date(at)).map((event) => event.revision);

  it('folds in revision order up to the last event at or before the time, never skipping one', () => {
    expect(revisions('2030-01-01T00:00:04.000Z')).toEqual([0, 1, 2]);
    expect(revisions('2030-01-01T00:00:03.000Z')).toEqual([0, 1, 2]);
    expect(revisions('2030-01-01T00:00:02.000Z')).toEqual([0]);
    expect(revisions('2030-01-01T00:00:09.000Z')).toEqual([0, 1, 2, 3]);
  });
  it('is empty before the first event', () => {
    expect(revisions('2029-12-31T23:59:59.000Z')).toEqual([]);
  });
});
