export * from './commands.ts';
export * from './decider.ts';
export * from './events.ts';
export * from './state.ts';
