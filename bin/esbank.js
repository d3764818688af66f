#!/usr/bin/env node
// Runs the TypeScript CLI through tsx, so `npx esbank` works from a fresh clone without a build step.
import { register } from 'tsx/esm/api';

register();
const { runCli } = await import('../src/adapters/cli/main.ts');
process.exit(await runCli(process.argv.slice(2)));
