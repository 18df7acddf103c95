// Public API of @flock/cli (the `flock` command is bin/flock.mjs).
export { main, buildProgram } from './main.js';
