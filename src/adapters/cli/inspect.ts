import type { RecordedEvent } from '../../application/ports/event-store.ts';
import { loadConfig } from '../../config.ts';
import { type AccountEvent, accountDecider, accountStreamName } from '../../domain/account/index.ts';
import { CliFailure, runWithDatabase } from './database.ts';
import { print } from './output.ts';

/** Fields every event of the stream repeats (its own id): left out of the readable view. */
const OWN_ID = new Set(['accountId', 'transferId']);

const keyData = (event: RecordedEvent) =>
  Object.entries(event.data)
    .filter(([key]) => !(OWN_ID.has(key) && event.streamName.endsWith(String(event.data[key]))))
    .map(([key, value]) => `${key}=${typeof value === 'object' ? JSON.stringify(value) : String(value)}`)
    .join(' ');

function eventTable(stream: string, events: RecordedEvent[]): string {
  const typeWidth = Math.max(4, ...events.map((event) => event.type.length));
  const positionWidth = Math.max(8, ...events.map((event) => String(event.position).length));
  const row = (revision: string, position: string, time: string, type: string, data: string) =>
    `${revision.padStart(4)}  ${position.padStart(positionWidth)}  ${time.padEnd(24)}  ${type.padEnd(typeWidth)}  ${data}`.trimEnd();
  return [
    `${stream}: ${events.length} event(s)`,
    row('rev', 'position', 'occurred at', 'type', 'data'),
    ...events.map((event) =>
      row(
        String(event.revision),
        String(event.position),
        event.metadata.occurredAt,
        event.type,
        keyData(event),
      ),
    ),
  ].join('\n');
}

/** `esbank events <stream>`: one stream's events, oldest first. */
export async function eventsCommand(stream: string, options: { from: number; json?: boolean }) {
  await runWithDatabase(loadConfig(), async ({ store }) => {
    const events = await store.readStream(stream, { fromRevision: options.from });
    if (events.length === 0 && (await store.readStream(stream, { maxCount: 1 })).length === 0)
      throw new CliFailure(`stream ${stream} does not exist`);
    print(options, events, () => eventTable(stream, events));
  });
}

/**
 * A stream as it stood at `at`: its events in revision order up to the last one that occurred at
 * or before `at`. Not a filter on occurredAt: that time is taken before conflict retries, so it is
 * not monotone in revision, and skipping an event would fold a state that never existed.
 */
export function streamAsOf<Event extends { metadata: { occurredAt: string } }>(
  stream: readonly Event[],
  at: Date,
): Event[] {
  const last = stream.findLastIndex((event) => Date.parse(event.metadata.occurredAt) <= at.getTime());
  return stream.slice(0, last + 1);
}

/**
 * `esbank account <id> --at <time>`: the account folded from its stream as it stood at `at`
 * (streamAsOf). Reads the log only, never the read models.
 */
export async function accountAtCommand(id: string, options: { at: Date; json?: boolean }) {
  await runWithDatabase(loadConfig(), async ({ store }) => {
    const stream = await store.readStream(accountStreamName(id));
    if (stream.length === 0) throw new CliFailure(`account ${id} does not exist`);
    const at = options.at.toISOString();
    const events = streamAsOf(stream, options.at);
    const state = events.reduce(
      (s, e) => accountDecider.evolve(s, { type: e.type, data: e.data } as unknown as AccountEvent),
      accountDecider.initialState(),
    );
    if (state.status === 'Unopened')
      throw new CliFailure(`account ${id} was opened at ${stream[0]!.metadata.occurredAt}, after ${at}`);
    const view = {
      accountId: state.accountId,
      currency: state.currency,
      ownerId: state.ownerId,
      status: state.status === 'Open' ? 'OPEN' : 'CLOSED',
      available: state.available,
      pending: state.pending,
      version: events[events.length - 1]!.revision,
      at,
    };
    print(options, view, () =>
      [
        `account ${view.accountId} as of ${at}`,
        `  status     ${view.status}`,
        `  owner      ${view.ownerId}`,
        `  available  ${view.available} ${view.currency}`,
        `  pending    ${view.pending} ${view.currency}`,
        `  version    ${view.version} (${events.length} of ${stream.length} events)`,
        '  (amounts in minor units)',
      ].join('\n'),
    );
  });
}
