/** Prints JSON for a program (`--json`) or the readable text for a person, on stdout. */
export function print(options: { json?: boolean }, value: unknown, human: () => string): void {
  process.stdout.write(`${options.json ? JSON.stringify(value, null, 2) : human()}\n`);
}
