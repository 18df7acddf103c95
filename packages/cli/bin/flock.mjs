#!/usr/bin/env node
// The flock command. Runs the TypeScript sources through tsx (no build step needed).
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main.ts');
const code = await main(process.argv);
process.exitCode = code;
