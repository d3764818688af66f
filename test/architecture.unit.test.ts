import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const SRC = join(ROOT, 'src');

/** Every source file under src/, with the relative modules it imports (type-only imports included). */
function importGraph(): Map<string, string[]> {
  const files = (readdirSync(SRC, { recursive: true }) as string[])
    .filter((name) => name.endsWith('.ts'))
    .map((name) => join(SRC, name));
  return new Map(
    files.map((file) => {
      const text = readFileSync(file, 'utf8');
      const targets = [...text.matchAll(/^(?:import|export)\s[^;]*?from\s+'(\.[^']+)'/gms)].map((match) =>
        resolve(dirname(file), match[1]!),
      );
      return [file, targets];
    }),
  );
}

const name = (file: string) => relative(ROOT, file);

describe('architecture (STYLE.md: adapters depend inward only)', () => {
  const graph = importGraph();

  it('has no import cycle in src/', () => {
    const state = new Map<string, 'open' | 'done'>();
    const cycles: string[][] = [];
    const visit = (file: string, path: string[]) => {
      state.set(file, 'open');
      for (const target of graph.get(file) ?? []) {
        if (state.get(target) === 'open')
          cycles.push([...path.slice(path.indexOf(target)), target].map(name));
        else if (!state.has(target)) visit(target, [...path, target]);
      }
      state.set(file, 'done');
    };
    for (const file of graph.keys()) if (!state.has(file)) visit(file, [file]);
    expect(cycles).toEqual([]);
  });

  it.each(['domain', 'sagas', 'application', 'adapters/http'])(
    'src/%s imports nothing from src/adapters/postgres',
    (folder) => {
      const offending = [...graph]
        .filter(([file]) => file.startsWith(join(SRC, folder) + '/'))
        .flatMap(([file, targets]) =>
          targets
            .filter((target) => target.startsWith(join(SRC, 'adapters', 'postgres')))
            .map((t) => `${name(file)} → ${name(t)}`),
        );
      expect(offending).toEqual([]);
    },
  );

  it('keeps the domain free of I/O and frameworks', () => {
    // Pure data structures only: immutable's persistent map holds an account's legs.
    const pure = new Set(['immutable']);
    const imports = [...graph.keys()]
      .filter((file) => file.startsWith(join(SRC, 'domain') + '/'))
      .flatMap((file) =>
        [...readFileSync(file, 'utf8').matchAll(/from\s+'([^.][^']*)'/g)]
          .filter((m) => !pure.has(m[1]!))
          .map((m) => `${name(file)}: ${m[1]}`),
      );
    expect(imports).toEqual([]);
  });
});
