import { defineConfig } from 'vitest/config';

// Default suite: fast unit tests next to the code plus loopback integration tests.
// Long runs live in *.slow.test.ts and run with `npm run test:slow`.
export default defineConfig({
  // Tests import every @flock/* package from its TypeScript sources (the "@flock/source" export
  // condition, see the packages' "exports"), never from a built dist/: a test always runs the code
  // as it is now. The other entries are Vite's defaults, which a custom list replaces.
  resolve: { conditions: ['@flock/source', 'module', 'browser', 'development|production'] },
  ssr: { resolve: { conditions: ['@flock/source', 'module', 'node', 'development|production'], externalConditions: ['@flock/source'] } },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'test/**/*.test.ts'],
    exclude: ['**/node_modules/**', '**/*.slow.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
