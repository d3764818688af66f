import { createAggregateRepository } from '../../application/aggregate-repository.ts';
import { randomIds } from '../../application/ports/ids.ts';
import { loadConfig } from '../../config.ts';
import { accountDecider, accountStreamName } from '../../domain/account/index.ts';
import { transferDecider, transferStreamName } from '../../domain/transfer/index.ts';
import { type CliDeps, CliFailure, runWithDatabase } from './database.ts';
import { print } from './output.ts';

/** Streams snapshotted at once: the CLI's pool has four connections. */
const CONCURRENCY = 4;

type Taken = { stream: string; revision: number };

function snapshotTaker({ store }: CliDeps) {
  const common = { store, ids: randomIds, snapshotEvery: 0 };
  const kinds = {
    account: {
      repository: createAggregateRepository({
        ...common,
        decider: accountDecider,
        streamName: accountStreamName,
      }),
      schemaVersion: accountDecider.snapshotSchemaVersion,
    },
    transfer: {
      repository: createAggregateRepository({
        ...common,
        decider: transferDecider,
        streamName: transferStreamName,
      }),
      schemaVersion: transferDecider.snapshotSchemaVersion,
    },
  };
  /** Loads the aggregate (latest snapshot + tail) and stores its state at the stream's head. */
  return async (stream: string): Promise<Taken | null> => {
    const kind = stream.startsWith('account-') ? 'account' : 'transfer';
    const { repository, schemaVersion } = kinds[kind];
    const { state, revision } = await repository.load(stream.slice(kind.length + 1));
    if (revision === 'no_stream') return null;
    await store.writeSnapshot(stream, { revision, schemaVersion, state });
    return { stream, revision };
  };
}

/** `esbank snapshot <stream>` or `esbank snapshot --all`: take snapshots now. */
export async function snapshotCommand(stream: string | undefined, options: { json?: boolean }) {
  await runWithDatabase(loadConfig(), async (deps) => {
    const take = snapshotTaker(deps);
    const streams = stream
      ? [stream]
      : [...(await deps.listStreams('account-')), ...(await deps.listStreams('transfer-'))];
    const taken: Taken[] = [];
    let next = 0;
    const worker = async () => {
      while (next < streams.length) {
        const result = await take(streams[next++]!);
        if (result) taken.push(result);
      }
    };
    await Promise.all(Array.from({ length: Math.min(CONCURRENCY, streams.length) }, worker));
    if (stream && taken.length === 0) throw new CliFailure(`stream ${stream} does not exist`);
    taken.sort((a, b) => a.stream.localeCompare(b.stream));
    print(options, { snapshots: taken.length, streams: taken }, () =>
      stream
        ? `snapshot of ${stream} taken at revision ${taken[0]!.revision}`
        : `took ${taken.length} snapshot(s): ${taken.filter((t) => t.stream.startsWith('account-')).length} account(s), ` +
          `${taken.filter((t) => t.stream.startsWith('transfer-')).length} transfer(s)`,
    );
  });
}
