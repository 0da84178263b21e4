import { defineConfig } from 'vitest/config';

// Two tiers (STYLE.md #12): unit tests beside the code, run from TypeScript; e2e tests under test/
// that start the built app (npm test builds first) and real services, and talk to them over HTTP.
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
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
