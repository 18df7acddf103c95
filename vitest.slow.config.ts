import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Tests import every @flock/* package from its TypeScript sources (the "@flock/source" export
  // condition, see the packages' "exports"), never from a built dist/: a test always runs the code
  // as it is now. The other entries are Vite's defaults, which a custom list replaces.
  resolve: { conditions: ['@flock/source', 'module', 'browser', 'development|production'] },
  ssr: { resolve: { conditions: ['@flock/source', 'module', 'node', 'development|production'], externalConditions: ['@flock/source'] } },
  test: {
    include: ['packages/*/src/**/*.slow.test.ts', 'test/**/*.slow.test.ts'],
    exclude: ['**/node_modules/**'],
    pool: 'forks',
    fileParallelism: false,
    testTimeout: 3_600_000,
    hookTimeout: 600_000,
  },
});
