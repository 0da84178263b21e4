// Prints the last line CI reads, "N passed, N failed", from Vitest's JSON report. A test file that
// fails to load has no failed test in it; it counts as one failure, so it cannot pass silently.
import { existsSync, readFileSync } from 'node:fs';

const file = process.argv[2] ?? '.vitest-results.json';
if (!existsSync(file)) {
  console.log('0 passed, 1 failed');
  process.exit(0);
}
const report = JSON.parse(readFileSync(file, 'utf8'));
const brokenFiles = (report.testResults ?? []).filter(
  (suite) =>
    suite.status === 'failed' && !suite.assertionResults.some((t) => t.status === 'failed'),
).length;
console.log(`${report.numPassedTests} passed, ${report.numFailedTests + brokenFiles} failed`);
