/**
 * Feeds every item from `read` (until it returns null) to every sink, in order. Each sink works at
 * its own pace; the reader stays at most `depth` items ahead of the slowest, and an item is let go
 * once every sink is done with it, so memory holds at most `depth + 1` items. `onDone` sees each
 * item once all sinks are done with it. The first failure stops everything and is thrown, after
 * every sink has come to rest.
 */
export async function broadcast<T>(
  read: () => Promise<T | null>,
  sinks: readonly ((item: T) => Promise<unknown>)[],
  depth: number,
  onDone?: (item: T) => void,
): Promise<void> {
  const items = new Map<number, T | null>();
  const next = sinks.map(() => 0);
  let settled = 0;
  let failure: { error: unknown } | undefined;
  let waiting: (() => void)[] = [];
  const changed = () => {
    const wake = waiting;
    waiting = [];
    for (const resolve of wake) resolve();
  };
  const change = () => new Promise<void>((resolve) => waiting.push(resolve));
  const fail = (error: unknown) => {
    failure ??= { error };
    changed();
  };

  const reader = async () => {
    for (let index = 0; !failure; index++) {
      while (!failure && index - Math.min(...next) >= depth) await change();
      if (failure) return;
      const item = await read();
      items.set(index, item);
      changed();
      if (item === null) return;
    }
  };

  const sink = async (k: number) => {
    for (;;) {
      while (!failure && !items.has(next[k]!)) await change();
      if (failure) return;
      const item = items.get(next[k]!)!;
      if (item === null) return;
      await sinks[k]!(item);
      next[k]!++;
      // The slowest sink has moved on: the items behind it are done with.
      for (const lowest = Math.min(...next); settled < lowest; settled++) {
        onDone?.(items.get(settled)!);
        items.delete(settled);
      }
      changed();
    }
  };

  await Promise.all([reader(), ...sinks.map((_, k) => sink(k))].map((work) => work.catch(fail)));
  if (failure) throw failure.error;
}
