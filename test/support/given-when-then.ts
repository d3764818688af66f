import { expect } from 'vitest';
import { type Decider, fold } from '../../src/domain/decider.ts';
import { DomainError, type DomainErrorCode } from '../../src/domain/errors.ts';

export type Scenario<Command, Event> = {
  when(command: Command): {
    /** The command records exactly these events ([] for an idempotent no-op). */
    then(expected: readonly Event[]): void;
    /** The command is rejected with a DomainError of this code. */
    thenThrows(code: DomainErrorCode): void;
  };
};

/**
 * Given/when/then for a pure decider: fold the given history from the initial state,
 * decide the command, compare the events (or the DomainError code).
 */
export function given<Command, Event, State>(
  decider: Decider<Command, Event, State>,
  history: readonly Event[] = [],
): Scenario<Command, Event> {
  const state = fold(decider, decider.initialState(), history);
  return {
    when: (command) => ({
      // biome-ignore lint/suspicious/noThenProperty: the given/when/then vocabulary; a scenario is never awaited.
      then(expected) {
        expect(decider.decide(command, state)).toEqual(expected);
      },
      thenThrows(code) {
        let thrown: unknown;
        try {
          decider.decide(command, state);
        } catch (error) {
          thrown = error;
        }
        expect(thrown, `expected DomainError ${code}`).toBeInstanceOf(DomainError);
        expect((thrown as DomainError).code).toBe(code);
      },
    }),
  };
}
