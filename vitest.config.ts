import { configDefaults, defineConfig } from 'vitest/config';

// Two tiers (STYLE.md #12): unit tests beside the code, run from TypeScript; e2e tests under test/
// that start the built app (npm test builds first) and real services, and talk to them over HTTP.
// The opensearch project is e2e against one real OpenSearch node per run, which its globalSetup
// builds and starts (or OPENSEARCH_URL names); see test/support/opensearch.ts.
export default defineConfig({
  resolve: { tsconfigPaths: true },
  test: {
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          include: ['libs/**/*.spec.ts', 'apps/**/*.spec.ts'],
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/**/*.e2e-spec.ts'],
          exclude: [...configDefaults.exclude, 'test/opensearch/**'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'opensearch',
          include: ['test/opensearch/**/*.e2e-spec.ts'],
          globalSetup: ['test/support/opensearch.ts'],
          testTimeout: 60_000,
          // A beforeAll may restart the node: 10-20 s here, more on a loaded machine.
          hookTimeout: 240_000,
          // The files share one node and some stop it: one file at a time.
          fileParallelism: false,
        },
      },
    ],
  },
});
