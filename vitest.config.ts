import { defineConfig } from 'vitest/config';

// Default suite: fast unit tests next to the code plus loopback integration tests.
// Long runs live in *.slow.test.ts and run with `npm run test:slow`.
export default defineConfig({
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/*.slow.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
