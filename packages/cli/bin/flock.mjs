#!/usr/bin/env node
// The flock command. Installed from npm it runs the compiled dist/; in a checkout of the Flock
// repository (src/ next to bin/) it runs the TypeScript sources through tsx, so a change to any
// package's src/ takes effect without a build and a stale dist/ is never used.
import { existsSync } from 'node:fs';

const source = new URL('../src/main.ts', import.meta.url);
let main;
if (existsSync(source)) {
  await import('../../../scripts/source-loader.mjs');
  ({ main } = await import(source.href));
} else {
  ({ main } = await import('../dist/main.js'));
}
const code = await main(process.argv);
process.exitCode = code;
