import { Command } from 'commander';
import { ingest, openapi, query, reportError, runtimeInfo, serve, worker } from './commands.js';
import type { evalCompare, evalGate, evalRun } from './eval.js';

// The evaluation commands load their modules (reports, significance tests) only when run: `keel
// serve` starts without them.
const loadEval = () => import('./eval.js');

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
