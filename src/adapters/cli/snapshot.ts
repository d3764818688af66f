import { createAggregateRepository } from '../../application/aggregate-repository.ts';
import { randomIds } from '../../application/ports/ids.ts';
import { loadConfig } from '../../config.ts';
import { accountDecider, accountStreamName } from '../../domain/account/index.ts';
import { type Decider, type Message, snapshotStateOf } from '../../domain/decider.ts';
import { transferDecider, transferStreamName } from '../../domain/transfer/index.ts';
import { type CliDeps, CliFailure, runWithDatabase } from './database.ts';
import { print } from './output.ts';

/** Streams snapshotted at once: the CLI's pool has four connections. */
const CONCURRENCY = 4;

type Taken = { stream: string; revision: number };

function snapshotTaker({ store }: CliDeps) {
  const common = { store, ids: randomIds, snapshotEvery: 0 };
  /** Loads the aggregate (latest snapshot + tail) and stores its state at the stream's head. */
  const taker = <Command, Event extends Message, State>(
    decider: Decider<Command, Event, State>,
    streamName: (id: string) => string,
  ) => {
    const repository = createAggregateRepository({ ...common, decider, streamName });
    return async (stream: string, id: string): Promise<Taken | null> => {
      const { state, revision } = await repository.load(id);
      if (revision === 'no_stream') return null;
      await store.writeSnapshot(stream, {
        revision,
        schemaVersion: decider.snapshotSchemaVersion,
        state: snapshotStateOf(decider, state),
      });
      return { stream, revision };
    };
  };
  const kinds = {
    account: taker(accountDecider, accountStreamName),
    transfer: taker(transferDecider, transferStreamName),
  };
  return (stream: string): Promise<Taken | null> => {
    const kind = stream.startsWith('account-') ? 'account' : 'transfer';
    return kinds[kind](stream, stream.slice(kind.length + 1));
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
