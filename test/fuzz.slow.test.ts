import { describe } from 'vitest';
import { runFuzz, SIZES } from './fuzz-suite.js';

// Ten times the default fuzz run, other seeds (npm run test:slow).
describe('protocol fuzzing (fast-check, large)', () => {
  for (const seed of [1, 2]) runFuzz({ idle: SIZES.idle * 5, train: SIZES.train * 5, secagg: SIZES.secagg * 5 }, seed);
});
