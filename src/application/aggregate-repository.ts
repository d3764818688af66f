import type { Message } from '../domain/decider.ts';
import { type CommandHandlerOptions, createCommandHandler } from './command-handler.ts';
import { withStateCache } from './state-cache.ts';

export type { CommandContext, Handled, Loaded } from './command-handler.ts';

export type RepositoryOptions<Command, Event, State> = CommandHandlerOptions<Command, Event, State> & {
  /** How many aggregates keep their last known state in memory (least recently used go first); 0: none. */
  cacheSize?: number;
};

/** An aggregate's command handler with its state cache (state-cache.ts says what the cache promises). */
export const createAggregateRepository = <Command, Event extends Message, State>(
  options: RepositoryOptions<Command, Event, State>,
) => withStateCache(createCommandHandler(options), options.cacheSize ?? 10_000);

export type AggregateRepository<Command, Event extends Message, State> = ReturnType<
  typeof createAggregateRepository<Command, Event, State>
>;
