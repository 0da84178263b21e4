// The load generator and the capacity arithmetic: no Nest, so the CLI loads it only when
// `keel loadtest` or `keel capacity` runs, and its pure parts are tested on their own.
export {
  arrivals,
  describeStep,
  expandPhases,
  expectedArrivals,
  offeredRps,
  parsePhase,
  searchRate,
  searchStep,
  timeOfArrival,
  type ArrivalProcess,
  type CapacitySearch,
  type Phase,
  type StepPlan,
} from './schedule.js';
export { LatencyHistogram, type LatencySummary } from './histogram.js';
export { Metrics, parsePrometheus, type Sample } from './prometheus.js';
export {
  snapshot,
  stepServer,
  stepWorker,
  type RuntimeSizing,
  type Snapshot,
  type StepServer,
  type StepWorker,
} from './snapshot.js';
export {
  judge,
  runLoadTest,
  type Criteria,
  type Planned,
  type RunConfig,
  type RunDeps,
  type RunOutcome,
  type SendResult,
  type StepResult,
  type Verdict,
  type WorkerScrape,
} from './engine.js';
export {
  ENDPOINTS,
  errorCode,
  keelRequests,
  parseMix,
  requestBody,
  sendJson,
  validResponse,
  type Endpoint,
  type Mix,
} from './keel-target.js';
export {
  LOADTEST_KIND,
  LOADTEST_VERSION,
  isLoadTestResult,
  type LoadTestResult,
  type WorkerSetup,
} from './result.js';
export {
  describeRuntime,
  markdownTable,
  renderMarkdown,
  renderSummary,
  textTable,
} from './report.js';
export { CHART_SERIES, renderChart } from './chart.js';
export {
  DEFAULT_GROUPS,
  parseGroup,
  planCapacity,
  API_CPU_UTILIZATION_TARGET,
  renderPatch,
  renderPlan,
  type CapacityInput,
  type CapacityPlan,
  type Derivation,
  type GroupPlan,
  type QueueGroup,
} from './capacity.js';
