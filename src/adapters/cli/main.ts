import { Command, CommanderError, InvalidArgumentError, Option } from 'commander';
import { ConfigError, loadConfig } from '../../config.ts';
import { type AccountEvent, accountDecider, accountStreamName } from '../../domain/account/index.ts';
import { mintToken, parseTtl, resolveJwtSecret } from '../http/auth.ts';
import { runWithDatabase } from './database.ts';
import { replayCommand } from './replay.ts';
import { snapshotCommand } from './snapshot.ts';

/** A usage mistake: exit code 2 with the usage text (SPEC §7). */
class UsageError extends Error {}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const ISO_TIME = /^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

const parseUuid = (value: string) => {
  if (!UUID.test(value)) throw new InvalidArgumentError('expected a UUID');
  return value.toLowerCase();
};
const parseTime = (value: string) => {
  const time = Date.parse(value);
  if (!ISO_TIME.test(value) || Number.isNaN(time))
    throw new InvalidArgumentError('expected an ISO-8601 time');
  return new Date(time);
};
const parseCount = (value: string) => {
  if (!/^\d+$/.test(value) || !Number.isSafeInteger(Number(value)))
    throw new InvalidArgumentError('expected a whole number');
  return Number(value);
};
const parseUntil = (value: string): { position: number } | { time: Date } =>
  /^\d+$/.test(value) ? { position: parseCount(value) } : { time: parseTime(value) };

const print = (json: boolean, value: unknown, human: () => string) =>
  process.stdout.write(`${json ? JSON.stringify(value, null, 2) : human()}\n`);

export function buildProgram(): Command {
  const program = new Command('esbank')
    .description('Event-sourced money transfers: serve the API, inspect and replay the event log')
    .showHelpAfterError()
    .exitOverride()
    .configureOutput({ writeErr: (text) => process.stderr.write(text) });

  program
    .command('serve')
    .description('run the API, saga coordinator, projections and deadline job (what `npm start` runs)')
    .action(async () => {
      const { startService } = await import('../../main.ts');
      const service = await startService(loadConfig());
      await new Promise<void>((resolve) => {
        const shutdown = () => void service.stop().then(resolve);
        process.once('SIGTERM', shutdown);
        process.once('SIGINT', shutdown);
      });
    });

  program
    .command('migrate')
    .description('apply database migrations')
    .action(async () => {
      const { migrate } = await import('../postgres/migrate.ts');
      await runWithDatabase(
        loadConfig(),
        async ({ sql }) => {
          const applied = await migrate(sql);
          process.stdout.write(applied.length ? `applied ${applied.join(', ')}\n` : 'up to date\n');
        },
        { migrate: false },
      );
    });

  program
    .command('replay')
    .description('rebuild read models from the event log, into fresh tables swapped in at the end')
    .addOption(
      new Option('--projection <name>', 'only this read model').choices(['balances', 'history', 'transfers']),
    )
    .option('--until <time|position>', 'rebuild as of an ISO time or a global position', parseUntil)
    .option('--batch-size <n>', 'events per batch', parseCount, 5000)
    .option('--json', 'print the summary as JSON')
    .action(replayCommand);

  program
    .command('events')
    .description("print a stream's events")
    .argument('<stream>', 'stream name, e.g. account-<uuid> or transfer-<uuid>')
    .option('--from <revision>', 'first revision', parseCount, 0)
    .option('--json', 'JSON output')
    .action(async (stream: string, options: { from: number; json?: boolean }) => {
      if (!/^(account|transfer)-[0-9a-f-]{36}$/i.test(stream))
        throw new UsageError(`unknown stream name: ${stream}`);
      await runWithDatabase(loadConfig(), async ({ store }) => {
        const events = await store.readStream(stream, { fromRevision: options.from });
        print(!!options.json, events, () =>
          events.length === 0
            ? `no events in ${stream}`
            : events
                .map(
                  (e) =>
                    `#${e.revision}  @${e.position}  ${e.metadata.occurredAt}  ${e.type.padEnd(24)} ${JSON.stringify(e.data)}`,
                )
                .join('\n'),
        );
      });
    });

  program
    .command('account')
    .description("an account's state at a past moment, folded from its events (not from read models)")
    .argument('<id>', 'account id', parseUuid)
    .requiredOption('--at <time>', 'ISO-8601 time', parseTime)
    .option('--json', 'JSON output')
    .action(async (id: string, options: { at: Date; json?: boolean }) => {
      await runWithDatabase(loadConfig(), async ({ store }) => {
        const events = (await store.readStream(accountStreamName(id))).filter(
          (e) => Date.parse(e.metadata.occurredAt) <= options.at.getTime(),
        );
        const state = events.reduce(
          (s, e) => accountDecider.evolve(s, { type: e.type, data: e.data } as unknown as AccountEvent),
          accountDecider.initialState(),
        );
        if (state.status === 'Unopened')
          throw new Error(`account ${id} did not exist at ${options.at.toISOString()}`);
        const view = {
          accountId: state.accountId,
          at: options.at.toISOString(),
          currency: state.currency,
          ownerId: state.ownerId,
          status: state.status === 'Open' ? 'OPEN' : 'CLOSED',
          available: state.available,
          pending: state.pending,
          version: events[events.length - 1]!.revision,
        };
        print(!!options.json, view, () =>
          [
            `account ${view.accountId} at ${view.at}`,
            `  status     ${view.status}`,
            `  owner      ${view.ownerId}`,
            `  available  ${view.available} ${view.currency} (minor units)`,
            `  pending    ${view.pending}`,
            `  version    ${view.version}`,
          ].join('\n'),
        );
      });
    });

  program
    .command('snapshot')
    .description('take snapshots now')
    .argument('[stream]', 'one stream, e.g. account-<uuid>')
    .option('--all', 'every account and transfer stream')
    .option('--json', 'JSON output')
    .action(async (stream: string | undefined, options: { all?: boolean; json?: boolean }) => {
      if (!!stream === !!options.all) throw new UsageError('name one stream or pass --all');
      if (stream && !/^(account|transfer)-[0-9a-f-]{36}$/i.test(stream))
        throw new UsageError(`unknown stream name: ${stream}`);
      await snapshotCommand(stream, options);
    });

  program
    .command('token')
    .description('mint an access token (HS256 JWT)')
    .requiredOption('--sub <id>', 'the principal')
    .addOption(new Option('--role <role>', 'role').choices(['customer', 'operator']).default('customer'))
    .option('--ttl <duration>', 'lifetime: 3600, 45m, 1h, 2d', '1h')
    .action(async (options: { sub: string; role: 'customer' | 'operator'; ttl: string }) => {
      const ttlSeconds = parseTtl(options.ttl);
      if (ttlSeconds === null) throw new UsageError(`invalid --ttl: ${options.ttl}`);
      if (options.sub.trim() === '') throw new UsageError('--sub must not be empty');
      const secret = await resolveJwtSecret(loadConfig());
      process.stdout.write(
        `${await mintToken({ sub: options.sub, role: options.role, ttlSeconds }, secret)}\n`,
      );
    });

  return program;
}

export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (error) {
    if (error instanceof CommanderError) {
      return ['commander.helpDisplayed', 'commander.version', 'commander.help'].includes(error.code) ? 0 : 2;
    }
    if (error instanceof UsageError) {
      process.stderr.write(`esbank: ${error.message}\n\n${program.helpInformation()}`);
      return 2;
    }
    const reason = error instanceof ConfigError ? error.message : describeFailure(error);
    process.stderr.write(`esbank: ${reason}\n`);
    return 1;
  }
}

function describeFailure(error: unknown): string {
  const code = (error as { code?: string })?.code;
  const message = error instanceof Error ? error.message : String(error);
  if (
    code === 'ECONNREFUSED' ||
    code === 'ENOTFOUND' ||
    code?.startsWith('CONNECT') ||
    code?.startsWith('08') ||
    /unreachable/i.test(message)
  ) {
    return `database unreachable (${message.split('\n')[0]})`;
  }
  return message.split('\n')[0] ?? 'failed';
}
