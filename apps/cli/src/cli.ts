import { Command } from 'commander';
import { ingest, openapi, query, reportError, runtimeInfo, serve, worker } from './commands.js';
import type { evalCompare, evalGate, evalRun } from './eval.js';
import type { CapacityOptions, LoadtestOptions } from './loadtest.js';

// The evaluation commands load their modules (reports, significance tests) only when run: `keel
// serve` starts without them.
const loadEval = () => import('./eval.js');
// Likewise the load generator (HDR histograms) and the capacity arithmetic.
const loadLoadtest = () => import('./loadtest.js');

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function run(argv: string[]): void {
  const program = new Command('keel')
    .description('Keel: RAG orchestration — ingest, retrieve, rerank, pack and answer')
    .showHelpAfterError()
    // `keel eval --out X` and `keel eval compare --out Y` are different options.
    .enablePositionalOptions();

  program
    .command('serve')
    .alias('api')
    .description(
      'run the HTTP API (embedded: SQLite and a worker-thread pool; with REDIS_URL, jobs go to workers)',
    )
    .option('--port <port>', 'listen port (default: PORT or 3000)')
    .option('--sample', 'load the bundled sample corpus into the "sample" collection once ready')
    .action(serve);

  program
    .command('worker')
    .description(
      'consume BullMQ queues on REDIS_URL (distributed mode); probes and metrics on KEEL_WORKER_PORT',
    )
    .requiredOption(
      '--queues <list>',
      'comma-separated: rerank,pack (query group) and/or ingest,eval (batch group)',
    )
    .option(
      '--concurrency <n>',
      'jobs per queue at once (default: KEEL_WORKER_CONCURRENCY, else the CPU quota)',
    )
    .option('--port <port>', 'port for /health and /metrics (default: KEEL_WORKER_PORT or 3001)')
    .action(worker);

  program
    .command('ingest')
    .description('ingest a corpus into a collection (created if missing)')
    .requiredOption('--collection <name>', 'target collection')
    .option('--beir <dir>', 'a BEIR-layout directory (corpus.jsonl)')
    .option('--jsonl <file>', 'a JSONL file of { id, text, title?, metadata? }')
    .option(
      '--url <url>',
      'Keel API to use (default: KEEL_URL, else localhost:PORT, else in-process)',
      process.env.KEEL_URL,
    )
    .option('--batch <n>', 'documents per request', '256')
    .option('--chunk-size <tokens>', 'chunk size when the collection is created')
    .option('--chunk-overlap <tokens>', 'chunk overlap when the collection is created')
    .action(ingest);

  program
    .command('query')
    .description('ask a question; prints the answer with its citations')
    .argument('<question...>')
    .requiredOption('--collection <name>', 'collection to search')
    .option('--top-k <n>', 'candidates retrieved before reranking')
    .option('--rerank <method>', 'keel | bm25 | proximity | title | mmr | none')
    .option('--json', 'print the whole response as JSON')
    .option(
      '--url <url>',
      'Keel API to use (default: KEEL_URL, else localhost:PORT, else in-process)',
      process.env.KEEL_URL,
    )
    .action(query);

  const url = [
    '--url <url>',
    'Keel API to use (default: KEEL_URL, else localhost:PORT, else in-process)',
    process.env.KEEL_URL,
  ] as const;
  const pipeline = (command: Command) =>
    command
      .option('--collection <name>', 'collection the corpus was ingested into')
      .option('--beir <dir>', 'a BEIR-layout directory (queries.jsonl, qrels/<split>.tsv)')
      .option('--split <split>', "qrels split (default test; the gate: the baseline's)")
      .option(
        '--answers <file>',
        'an answer-level JSONL dataset ({ question, answers, contexts?, docIds? })',
      )
      .option('--rerank <method>', 'keel | bm25 | proximity | title | mmr | none (default keel)')
      .option('--top-k <n>', 'documents retrieved (default 100)')
      .option('--context-top-k <n>', 'passages offered to the packer (answer datasets, default 8)')
      .option('--budget <tokens>', 'context budget in tokens (answer datasets, default 3000)')
      .option('--metrics <list>', 'comma-separated, e.g. ndcg@10,recall@100')
      .option('--label <label>', 'a name for the run in tables and charts')
      .option(...url);

  const evaluation = program
    .command('eval')
    .description(
      'evaluate a pipeline on a dataset; prints metrics and writes JSON/Markdown/HTML reports',
    )
    .option('--out <dir>', 'report directory (default keel-reports/<id>)')
    .option('--json', 'print the aggregate metrics as JSON')
    .option('--trec-run <file>', 'also write the ranked run in TREC format (for trec_eval)')
    .enablePositionalOptions();
  pipeline(evaluation).action(async (options: Parameters<typeof evalRun>[0]) => {
    if (!options.collection) throw new Error("required option '--collection <name>' not specified");
    return (await loadEval()).evalRun(options);
  });

  evaluation
    .command('compare')
    .description(
      'compare run B against run A (report files or evaluation ids) with paired significance tests',
    )
    .argument('<a>', 'baseline: report.json or evaluation id')
    .argument('<b>', 'candidate: report.json or evaluation id')
    .option('--metric <metric>', 'metric the per-query lists and charts use (default: the first)')
    .option('--alpha <p>', 'significance level', '0.05')
    .option('--out <dir>', 'report directory (default keel-reports/compare-<a>-<b>)')
    .option('--json', 'print the comparison as JSON')
    .option(...url)
    .action(async (...args: Parameters<typeof evalCompare>) =>
      (await loadEval()).evalCompare(...args),
    );

  pipeline(
    evaluation
      .command('gate')
      .description('fail (exit 3) when a metric dropped significantly below a baseline report')
      .requiredOption('--baseline <file>', 'baseline report.json (or evaluation id)')
      .option(
        '--current <file>',
        'current report.json (or evaluation id); else run it with --collection/--beir',
      )
      .option('--metric <metric>', 'metric gated on', 'ndcg@10')
      .option('--max-drop <delta>', 'largest tolerated drop of the mean', '0.01')
      .option('--alpha <p>', 'significance level of the drop', '0.05')
      .option('--write-current <file>', 'also write the current run as a report file'),
  ).action(async (...args: Parameters<typeof evalGate>) => (await loadEval()).evalGate(...args));

  program
    .command('loadtest')
    .description(
      'open-loop load test of /v1/retrieve and /v1/query; writes JSON, Markdown and an SVG chart',
    )
    .requiredOption('--collection <name>', 'collection to query (ingested beforehand)')
    .option(
      '--url <url>',
      'Keel API under test (default: KEEL_URL, else http://127.0.0.1:PORT; never in-process)',
    )
    .option(
      '--beir <dir>',
      'queries in BEIR layout (default: SCIFACT_DIR, else ../shared/data/scifact)',
    )
    .option('--split <split>', 'qrels split whose queries are sent', 'test')
    .option('--mix <weights>', 'endpoint weights', 'retrieve=0.7,query=0.3')
    .option(
      '--phase <spec>',
      'steady:RPS:SECONDS | ramp:FROM:TO:SECONDS | steps:R1,R2,…:SECONDS; repeat for more (default steady:10:10)',
      collect,
    )
    .option('--arrivals <process>', 'uniform (every 1000/rps ms) or poisson (seeded)', 'uniform')
    .option('--seed <n>', 'seed of the mix, the queries and poisson arrivals', '1')
    .option('--max-requests <n>', 'requests scheduled in the whole run, at most', '10000')
    .option(
      '--max-seconds <s>',
      'no request is scheduled later than this after the start (in-flight ones get their timeout)',
      '120',
    )
    .option('--timeout-ms <ms>', 'per-request timeout', '10000')
    .option(
      '--max-in-flight <n>',
      'requests in flight at once; past it, due requests are dropped',
      '1000',
    )
    .option(
      '--late-ms <ms>',
      'a request sent later than this after its scheduled time counts as late',
      '20',
    )
    .option('--top-k <n>', 'topK of each request (default: the server’s)')
    .option('--slo-p99 <ms>', 'p99 latency a step must hold (from each scheduled send)')
    .option(
      '--error-budget <rate>',
      'errors, and late or dropped requests, a step may have',
      '0.01',
    )
    .option(
      '--find-capacity',
      'step the rate up until the SLO or the budget breaks (needs --slo-p99)',
    )
    .option('--start-rps <rps>', '--find-capacity: first rate', '5')
    .option('--factor <x>', '--find-capacity: each rate is the previous one times this', '1.5')
    .option('--increment <rps>', '--find-capacity: add this instead of multiplying')
    .option('--step-seconds <s>', '--find-capacity: seconds per step', '10')
    .option('--max-steps <n>', '--find-capacity: steps at most', '8')
    .option(
      '--worker-metrics <url>',
      "a worker's metrics URL (KEEL_WORKER_PORT); repeat for more",
      collect,
    )
    .option('--out <dir>', 'report directory (default keel-reports/loadtest-<timestamp>)')
    .option('--json', 'print the whole result as JSON instead of the table')
    .action(async (options: LoadtestOptions) => (await loadLoadtest()).loadtest(options));

  program
    .command('capacity')
    .description(
      'size the API and the worker groups for a peak rate from a load test; prints the arithmetic and a kustomize patch',
    )
    .requiredOption('--from <file>', 'loadtest.json of keel loadtest')
    .requiredOption('--peak-rps <n>', 'peak request rate to size for')
    .option('--headroom <h>', 'target utilisation of a pod, in (0, 1]', '0.7')
    .option(
      '--queues <group>',
      'a worker group, NAME=q1,q2 (keel-worker-NAME); repeat for more (default query=rerank,pack and batch=ingest,eval)',
      collect,
    )
    .option(
      '--worker-metrics <url>',
      "read job slots from a worker's metrics; repeat for more",
      collect,
    )
    .option(
      '--worker-cpu <cores>',
      'cores of a worker pod, when no keel_worker_concurrency is known',
      '1',
    )
    .option('--api-min-replicas <n>', 'floor of API pods', '2')
    .option('--min-rps <n>', "off-peak rate, for the API ScaledObject's minReplicaCount")
    .option('--json', 'print the plan as JSON')
    .option('--write-patch <file>', 'also write the kustomize patch to a file')
    .action(async (options: CapacityOptions) => (await loadLoadtest()).capacity(options));

  program
    .command('openapi')
    .description('write the OpenAPI document of this build')
    .requiredOption('--out <file>', 'output file')
    .action(openapi);

  program
    .command('runtime')
    .description('print what Keel detects about its container and how it sizes itself')
    .option('--json', 'as JSON')
    .action(runtimeInfo);

  program.parseAsync(argv).catch(reportError);
}
