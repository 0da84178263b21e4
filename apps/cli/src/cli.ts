import { Command } from 'commander';
import { ingest, openapi, query, reportError, runtimeInfo, serve } from './commands.js';

export function run(argv: string[]): void {
  const program = new Command('keel')
    .description('Keel: RAG orchestration — ingest, retrieve, rerank, pack and answer')
    .showHelpAfterError();

  program
    .command('serve')
    .alias('api')
    .description('run the HTTP API (embedded mode: SQLite store and a worker-thread pool)')
    .option('--port <port>', 'listen port (default: PORT or 3000)')
    .option('--sample', 'load the bundled sample corpus into the "sample" collection once ready')
    .action(serve);

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
