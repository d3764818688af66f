export * from './commands.ts';
export * from './decider.ts';
export * from './events.ts';
export * from './request.ts';
export * from './state.ts';
