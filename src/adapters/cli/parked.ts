import { userInfo } from 'node:os';
import { createParkedEvents, ParkedEventError, type ParkedEvents } from '../../application/parked-events.ts';
import { systemClock } from '../../application/ports/clock.ts';
import type { ParkedEvent, ParkedEventAction } from '../../application/ports/saga-store.ts';
import { type Config, loadConfig } from '../../config.ts';
import { createLogger } from '../logging.ts';
import { createPostgresSagaStore } from '../postgres/saga-store.ts';
import { type CliDeps, CliFailure, runWithDatabase } from './database.ts';
import { print } from './output.ts';

/** The saga as `esbank serve` composes it, to run a parked event's handler once more. */
async function parkedEventsOf({ sql, store }: CliDeps, config: Config) {
  const { createWriteSide } = await import('../../main.ts');
  const sagaStore = createPostgresSagaStore(sql);
  const { coordinator } = createWriteSide(config, store, sagaStore, createLogger('silent'));
  return createParkedEvents({ store, sagaStore, clock: systemClock, handle: coordinator.retry });
}

/** Who runs the command, for the audit trail: `--by`, else the OS user. */
export const operator = (by: string | undefined) => by ?? `os:${userInfo().username}`;

const line = (event: ParkedEvent) =>
  `${event.eventId}  position ${event.position}  ${event.type}  transfer ${event.correlationId}  parked ${event.parkedAt}` +
  (event.resolution
    ? `  ${event.resolution.action} by ${event.resolution.by} at ${event.resolution.at}`
    : '') +
  `\n    error: ${event.error}`;

const trail = (actions: readonly ParkedEventAction[]) =>
  actions.map((a) => `    ${a.at}  ${a.action} by ${a.actor}${a.detail ? `: ${a.detail}` : ''}`).join('\n');

/** Runs `work` on the parked events; an operator's mistake (unknown id, already resolved) exits 1 with its reason. */
async function withParkedEvents(work: (parked: ParkedEvents) => Promise<void>) {
  const config = loadConfig();
  await runWithDatabase(config, async (deps) => {
    try {
      await work(await parkedEventsOf(deps, config));
    } catch (error) {
      if (error instanceof ParkedEventError) throw new CliFailure(error.message);
      throw error;
    }
  });
}

/** `esbank parked list [--all]`: the events waiting for an operator (with --all, the resolved ones too). */
export const parkedListCommand = (options: { all?: boolean; json?: boolean }) =>
  withParkedEvents(async (parked) => {
    const events = await parked.list({ includeResolved: options.all === true });
    print(options, events, () =>
      events.length === 0
        ? options.all
          ? 'no event was ever parked'
          : 'no parked event waits for an operator'
        : [`${events.length} parked event(s):`, ...events.map(line)].join('\n'),
    );
  });

/** `esbank parked retry <id>`: the saga handles the event again; on success it is resolved as retried. */
export const parkedRetryCommand = (eventId: string, options: { by?: string; json?: boolean }) =>
  withParkedEvents(async (parked) => {
    const event = await parked.retry(eventId, operator(options.by));
    print(options, event, () => `${line(event)}\n${trail(event.actions)}`);
  });

/** `esbank parked discard <id>`: the saga gives up on the event; who and why are kept. */
export const parkedDiscardCommand = (
  eventId: string,
  options: { by?: string; reason?: string; json?: boolean },
) =>
  withParkedEvents(async (parked) => {
    const event = await parked.discard(eventId, operator(options.by), options.reason ?? null);
    print(options, event, () => `${line(event)}\n${trail(event.actions)}`);
  });
