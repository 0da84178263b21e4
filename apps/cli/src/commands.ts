import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { DocumentInputDto, RerankMethodName } from '@keel/contracts';
import { describeRuntime } from '@keel/platform/runtime';
import { KeelApiError } from './client.js';
import { join } from 'node:path';
import { bootConfig, layout } from './boot.js';
import { connect } from './embedded.js';
import { formatAnswer } from './format.js';
import { batches, readBeirCorpus, readJsonl } from './readers.js';

export const SAMPLE_COLLECTION = 'sample';

export async function serve(options: { port?: string; sample?: boolean }): Promise<void> {
  const { config, runtime } = bootConfig(options.port ? { PORT: options.port } : {});
  // The pool threads start first and load in parallel with the API's own modules.
  const { startJobs } = await import('@keel/jobs/embedded');
  const pool = await startJobs(config, runtime, layout().threadFile);
  const { startApi } = await import('../../api/src/index.js');
  const { PROCESSORS } = await import('../../worker/src/index.js');
  const running = await startApi({
    config,
    runtime,
    threadFile: layout().threadFile,
    bodyThreadFile: layout().bodyThreadFile,
    processors: PROCESSORS,
    version: layout().version,
    pool,
  });
  // A pool that cannot start leaves the pod useless: exit, so the orchestrator restarts it.
  running.ready.catch(() => process.exit(1));
  if (options.sample) {
    await running.ready;
    const { KeelClient } = await import('./client.js');
    await loadSample(new KeelClient(running.url));
    process.stdout.write(
      `\nKeel is serving the '${SAMPLE_COLLECTION}' collection at ${running.url}\n` +
        `  docs:  ${running.url}/docs\n` +
        `  try:   curl -s ${running.url}/v1/query -H 'content-type: application/json' \\\n` +
        `           -d '{"collection":"${SAMPLE_COLLECTION}","query":"How does Keel size its worker pool in a container?"}'\n\n`,
    );
  }
}

export async function worker(options: {
  queues: string;
  concurrency?: string;
  port?: string;
}): Promise<void> {
  const { config, runtime } = bootConfig();
  const { redisUrl } = config;
  if (!redisUrl) throw new Error('keel worker needs REDIS_URL (the queues live in Redis)');
  const { parseWorkerQueues } = await import('@keel/jobs/distributed');
  const queues = parseWorkerQueues(options.queues);
  const concurrency = options.concurrency === undefined ? undefined : Number(options.concurrency);
  if (concurrency !== undefined && !(Number.isSafeInteger(concurrency) && concurrency >= 1)) {
    throw new Error('--concurrency must be a positive integer');
  }
  const port = options.port === undefined ? undefined : Number(options.port);
  if (port !== undefined && !(Number.isSafeInteger(port) && port >= 0 && port <= 65_535)) {
    throw new Error('--port must be a port number');
  }
  const { startWorker } = await import('../../worker/src/worker-app.js');
  const running = await startWorker({
    config: { ...config, redisUrl },
    runtime,
    threadFile: layout().threadFile,
    queues,
    ...(concurrency !== undefined ? { concurrency } : {}),
    ...(port !== undefined ? { port } : {}),
  });
  await running.ready;
}

async function loadSample(client: import('./client.js').KeelClient): Promise<void> {
  await client.ensureCollection({ name: SAMPLE_COLLECTION });
  const docs: DocumentInputDto[] = [];
  for await (const doc of readJsonl(join(layout().root, 'samples/keel-sample.jsonl')))
    docs.push(doc);
  const result = await client.ingest(SAMPLE_COLLECTION, docs);
  process.stdout.write(
    `sample corpus: ${docs.length} documents (${result.created} created, ${result.updated} updated, ${result.unchanged} unchanged)\n`,
  );
}

export async function ingest(options: {
  collection: string;
  beir?: string;
  jsonl?: string;
  url?: string;
  batch: string;
  chunkSize?: string;
  chunkOverlap?: string;
}): Promise<void> {
  if (!options.beir === !options.jsonl)
    throw new Error('give exactly one of --beir DIR or --jsonl FILE');
  const batchSize = Number(options.batch);
  if (!Number.isSafeInteger(batchSize) || batchSize < 1 || batchSize > 1000) {
    throw new Error('--batch must be an integer in 1..1000');
  }
  const target = await connect(options.url);
  try {
    await target.client.ensureCollection({
      name: options.collection,
      ...(options.chunkSize ? { chunkSize: Number(options.chunkSize) } : {}),
      ...(options.chunkOverlap ? { chunkOverlap: Number(options.chunkOverlap) } : {}),
    });
    const source = options.beir
      ? readBeirCorpus(resolve(options.beir))
      : readJsonl(resolve(options.jsonl!));
    const totals = { documents: 0, created: 0, updated: 0, unchanged: 0, chunks: 0 };
    const started = performance.now();
    for await (const batch of batches(source, batchSize)) {
      const r = await target.client.ingest(options.collection, batch);
      totals.documents += batch.length;
      totals.created += r.created;
      totals.updated += r.updated;
      totals.unchanged += r.unchanged;
      totals.chunks += r.chunks;
      // A progress line for people; logs and pipes get only the summary.
      if (process.stderr.isTTY) process.stderr.write(`\ringested ${totals.documents} documents`);
    }
    const seconds = (performance.now() - started) / 1000;
    if (process.stderr.isTTY) process.stderr.write('\n');
    process.stdout.write(
      `${options.collection}: ${totals.documents} documents in ${seconds.toFixed(1)} s — ` +
        `${totals.created} created, ${totals.updated} updated, ${totals.unchanged} unchanged, ${totals.chunks} chunks written\n`,
    );
  } finally {
    await target.close?.();
  }
}

export async function query(
  words: string[],
  options: { collection: string; topK?: string; url?: string; json?: boolean; rerank?: string },
): Promise<void> {
  const target = await connect(options.url);
  try {
    const result = await target.client.query({
      collection: options.collection,
      query: words.join(' '),
      ...(options.topK ? { topK: Number(options.topK) } : {}),
      ...(options.rerank ? { rerank: options.rerank as RerankMethodName } : {}),
    });
    process.stdout.write(
      options.json ? `${JSON.stringify(result, null, 2)}\n` : `${formatAnswer(result)}\n`,
    );
  } finally {
    await target.close?.();
  }
}

export async function openapi(options: { out: string }): Promise<void> {
  const { config, runtime } = bootConfig({ LOG_LEVEL: 'silent' });
  const { createApi, buildOpenApiDocument } = await import('../../api/src/index.js');
  const { PROCESSORS } = await import('../../worker/src/index.js');
  const app = await createApi({
    config,
    runtime,
    threadFile: layout().threadFile,
    bodyThreadFile: layout().bodyThreadFile,
    processors: PROCESSORS,
    version: layout().version,
  });
  await app.init();
  const doc = buildOpenApiDocument(app, layout().version);
  writeFileSync(options.out, `${JSON.stringify(doc, null, 2)}\n`);
  await app.close();
  process.stdout.write(`wrote ${options.out}\n`);
}

export function runtimeInfo(options: { json?: boolean }): void {
  const { runtime } = bootConfig();
  process.stdout.write(
    options.json
      ? `${JSON.stringify(runtime, null, 2)}\n`
      : `${describeRuntime(runtime.detected, runtime.sizing)}\n`,
  );
}

export function reportError(error: unknown): never {
  if (error instanceof KeelApiError) {
    process.stderr.write(`keel: ${error.message}\n`);
  } else if (error instanceof Error) {
    process.stderr.write(`keel: ${error.message}\n`);
  } else {
    process.stderr.write(`keel: ${String(error)}\n`);
  }
  process.exit(1);
}
