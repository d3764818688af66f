/** A domain event or command: a discriminated union member `{ type, data }`. */
export type Message<Type extends string = string, Data = Record<string, unknown>> = Readonly<{
  type: Type;
  data: Readonly<Data>;
}>;

/**
 * A pure aggregate: `decide` turns a command and the current state into the events that
 * record what happened (or throws a DomainError); `evolve` folds one event into the state.
 */
export type Decider<Command, Event, State> = {
  decide: (command: Command, state: State) => Event[];
  evolve: (state: State, event: Event) => State;
  initialState: () => State;
  /** Bumped whenever the state's shape changes; older snapshots are then ignored. */
  snapshotSchemaVersion: number;
  /**
   * How a snapshot stores the state (plain JSON data) and reads it back, for a state holding a
   * structure JSON does not keep; without it the state is stored as it is.
   */
  snapshot?: { write: (state: State) => unknown; read: (stored: unknown) => State };
};

/** The state as a snapshot stores it (Decider.snapshot). */
export const snapshotStateOf = <State>(
  decider: Pick<Decider<never, never, State>, 'snapshot'>,
  state: State,
) => (decider.snapshot ? decider.snapshot.write(state) : state);

/** The state a snapshot stored (Decider.snapshot). */
export const stateFromSnapshot = <State>(
  decider: Pick<Decider<never, never, State>, 'snapshot'>,
  stored: unknown,
) => (decider.snapshot ? decider.snapshot.read(stored) : (stored as State));

export const fold = <Event, State>(
  decider: Pick<Decider<unknown, Event, State>, 'evolve'>,
  state: State,
  events: readonly Event[],
): State => events.reduce(decider.evolve, state);

/** Exhaustiveness check: the compiler rejects a switch that forgets a case. */
export const assertNever = (value: never): never => {
  throw new Error(`Unexpected value: ${JSON.stringify(value)}`);
};
