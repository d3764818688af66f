import { createAggregateRepository } from '../../application/aggregate-repository.ts';
import { randomIds } from '../../application/ports/ids.ts';
import { loadConfig } from '../../config.ts';
import { accountDecider, accountStreamName } from '../../domain/account/index.ts';
import { transferDecider, transferStreamName } from '../../domain/transfer/index.ts';
import { runWithDatabase } from './database.ts';

/** Folds each stream and stores its snapshot at its latest revision. */
export async function snapshotCommand(
  stream: string | undefined,
  options: { json?: boolean },
): Promise<void> {
  await runWithDatabase(loadConfig(), async ({ store }) => {
    const common = { store, ids: randomIds, snapshotEvery: 0 };
    const repositories = {
      account: createAggregateRepository({
        ...common,
        decider: accountDecider,
        streamName: accountStreamName,
      }),
      transfer: createAggregateRepository({
        ...common,
        decider: transferDecider,
        streamName: transferStreamName,
      }),
    };
    const versions = {
      account: accountDecider.snapshotSchemaVersion,
      transfer: transferDecider.snapshotSchemaVersion,
    };
    const streams = stream
      ? [stream]
      : [...(await store.listStreams('account-')), ...(await store.listStreams('transfer-'))];
    let taken = 0;
    for (const name of streams) {
      const kind = name.startsWith('account-') ? 'account' : 'transfer';
      const { state, revision } = await repositories[kind].load(name.slice(kind.length + 1));
      if (revision === 'no_stream') continue;
      await store.writeSnapshot(name, { revision, schemaVersion: versions[kind], state });
      taken++;
    }
    if (stream && taken === 0) throw new Error(`no events in ${stream}`);
    process.stdout.write(
      options.json ? `${JSON.stringify({ snapshots: taken })}\n` : `took ${taken} snapshot(s)\n`,
    );
  });
}
