/** The time source; tests pass a fake one. */
export type Clock = { now: () => Date };

export const systemClock: Clock = { now: () => new Date() };
