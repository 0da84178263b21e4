// npm run bench:backends — the two search backends side by side, through a running Keel server:
// SciFact test quality of BM25 (and BM25 + rerank) on the embedded store and on OpenSearch, their
// queries/s at concurrency 1 and 8, and what hybrid's parallel fan-out costs against its slower
// leg alone. OpenSearch is the real 2.19 node of scripts/opensearch.sh (or OPENSEARCH_URL); the
// dense leg's vectors come from the embedding-server test double (feature hashing, not a model),
// so only its timings are reported, never its quality. Writes docs/benchmarks/backends.{md,json}.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { loadBeir } from '@keel/evaluation';
import { startEmbeddingServer } from '../support/embedding-server.js';
import { freePort } from '../support/redis.js';
import {
  fixed,
  machine,
  repoRoot,
  scifactDir,
  startKeelProcess,
  type KeelProcess,
  writeMarkdown,
} from './common.js';

const TOP_K = 100;
const QUERIES = Number(process.env.BENCH_QUERIES ?? 300);

interface OpenSearchNode {
  url: string;
  stop(): Promise<void>;
}

/** The harness's launcher in the foreground; stdin held open (the node stops when it closes). */
async function startOpenSearch(): Promise<OpenSearchNode> {
  if (process.env.OPENSEARCH_URL) {
    return { url: process.env.OPENSEARCH_URL, stop: () => Promise.resolve() };
  }
  const child: ChildProcess = spawn('bash', [join(repoRoot(), 'scripts/opensearch.sh'), 'run'], {
    cwd: repoRoot(),
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`opensearch.sh exited ${code}`)));
    lines.on('line', (line) => {
      const m = /^OPENSEARCH_URL=(\S+)/.exec(line);
      if (m) resolve(m[1]);
    });
  });
  return {
    url,
    stop: async () => {
      const gone = new Promise((r) => child.once('exit', r));
      child.stdin!.end();
      await gone;
    },
  };
}

async function call<T = any>(
  base: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(600_000),
  });
  const text = await res.text();
  return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
}

function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

const round = (n: number, d = 2) => Math.round(n * 10 ** d) / 10 ** d;

/** `requests` POST /v1/retrieve bodies, `concurrency` at a time: queries/s and latency. */
async function load(keel: KeelProcess, bodies: unknown[], concurrency: number) {
  const latencies: number[] = [];
  let next = 0;
  let errors = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < bodies.length) {
        const body = bodies[next++];
        const t = performance.now();
        const res = await call(keel.url, 'POST', '/v1/retrieve', body);
        latencies.push(performance.now() - t);
        if (res.status !== 200) errors += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return {
    qps: round(bodies.length / seconds, 1),
    p50Ms: round(percentile(latencies, 0.5)),
    p99Ms: round(percentile(latencies, 0.99)),
    errors,
  };
}

async function evaluation(keel: KeelProcess, collection: string, rerank: string, dataset: unknown) {
  const accepted = await call<{ id: string }>(keel.url, 'POST', '/v1/evaluations', {
    collection,
    label: `${collection} ${rerank}`,
    dataset,
    config: { rerank, metrics: ['ndcg@10', 'recall@100', 'mrr@10'] },
  });
  if (accepted.status !== 202) throw new Error(`evaluation: ${JSON.stringify(accepted.body)}`);
  for (;;) {
    const e = await call<{
      state: string;
      report?: { aggregate: Record<string, number> };
      error?: unknown;
    }>(keel.url, 'GET', `/v1/evaluations/${accepted.body.id}`);
    if (e.body.state === 'completed') return e.body.report!.aggregate;
    if (e.body.state === 'failed' || e.body.state === 'cancelled') {
      throw new Error(`evaluation ${e.body.state}: ${JSON.stringify(e.body.error)}`);
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

async function main(): Promise<void> {
  const data = loadBeir(scifactDir(), 'test');
  const qids = [...data.qrels.keys()].slice(0, QUERIES);
  const dataset = {
    name: 'scifact',
    split: 'test',
    queries: qids.map((id) => ({ id, text: data.queries.get(id)! })),
    qrels: Object.fromEntries(qids.map((id) => [id, Object.fromEntries(data.qrels.get(id)!)])),
  };
  const node = await startOpenSearch();
  const embeddings = await startEmbeddingServer({ dimensions: 256, model: 'hash-256' });
  const dataDir = mkdtempSync(join(tmpdir(), 'keel-backends-'));
  const port = await freePort();
  let keel: KeelProcess | undefined;
  try {
    keel = await startKeelProcess(
      ['serve'],
      {
        KEEL_DATA_DIR: dataDir,
        PORT: String(port),
        OPENSEARCH_URL: node.url,
        EMBEDDINGS_URL: embeddings.url,
        EMBEDDINGS_PROTOCOL: 'openai',
        EMBEDDINGS_MODEL: 'hash-256',
        KEEL_REQUEST_TIMEOUT_MS: '600000',
      },
      port,
    );
    const collections = { sqlite: 'scifact-sqlite', opensearch: 'scifact-os' } as const;
    const ingestSeconds: Record<string, number> = {};
    for (const [backend, name] of Object.entries(collections)) {
      const created = await call(keel.url, 'POST', '/v1/collections', { name, backend });
      if (created.status !== 201)
        throw new Error(`create ${name}: ${JSON.stringify(created.body)}`);
      const started = performance.now();
      for (let i = 0; i < data.corpus.length; i += 500) {
        const batch = data.corpus.slice(i, i + 500).map((d) => ({
          id: d.id,
          text: d.text.trim() === '' ? d.title : d.text,
          ...(d.title ? { title: d.title } : {}),
        }));
        const res = await call(keel.url, 'POST', `/v1/collections/${name}/documents?wait=true`, {
          documents: batch,
        });
        if (res.status !== 200) throw new Error(`ingest ${name}: ${JSON.stringify(res.body)}`);
      }
      ingestSeconds[backend] = round((performance.now() - started) / 1000, 1);
      console.log(`${name}: ingested in ${ingestSeconds[backend]} s`);
    }

    // 1. Quality, through Keel's own evaluation path (trec_eval semantics).
    const quality: Record<string, Record<string, Record<string, number>>> = {};
    for (const [backend, name] of Object.entries(collections)) {
      quality[backend] = {
        bm25: await evaluation(keel, name, 'none', dataset),
        'bm25 + rerank': await evaluation(keel, name, 'keel', dataset),
      };
      console.log(backend, JSON.stringify(quality[backend]));
    }

    // 2. Throughput of BM25 retrieval (top 100, grouped by document), concurrency 1 and 8.
    const bodies = (collection: string, mode: string) =>
      dataset.queries.map((q) => ({
        collection,
        query: q.text,
        topK: TOP_K,
        group: 'document',
        mode,
      }));
    const throughput: Record<string, Record<string, unknown>> = {};
    for (const [backend, name] of Object.entries(collections)) {
      await load(keel, bodies(name, 'bm25').slice(0, 50), 4); // warm-up
      throughput[backend] = {
        c1: await load(keel, bodies(name, 'bm25'), 1),
        c8: await load(keel, bodies(name, 'bm25'), 8),
      };
      console.log(backend, JSON.stringify(throughput[backend]));
    }

    // 3. Hybrid fan-out on OpenSearch: per query, BM25 alone, dense alone and hybrid,
    //    interleaved at concurrency 1; overhead against the slower leg of the same query.
    const os = collections.opensearch;
    const per: Array<{ bm25: number; dense: number; hybrid: number }> = [];
    const time = async (mode: string, query: string) => {
      const t = performance.now();
      const res = await call(keel!.url, 'POST', '/v1/retrieve', {
        collection: os,
        query,
        topK: TOP_K,
        group: 'document',
        mode,
      });
      if (res.status !== 200) throw new Error(`${mode}: ${JSON.stringify(res.body)}`);
      return performance.now() - t;
    };
    for (const q of dataset.queries.slice(0, 20)) await time('hybrid', q.text); // warm-up
    for (const q of dataset.queries) {
      per.push({
        bm25: await time('bm25', q.text),
        dense: await time('dense', q.text),
        hybrid: await time('hybrid', q.text),
      });
    }
    const slower = per.map((p) => Math.max(p.bm25, p.dense));
    const fanout = {
      queries: per.length,
      bm25P50Ms: round(
        percentile(
          per.map((p) => p.bm25),
          0.5,
        ),
      ),
      denseP50Ms: round(
        percentile(
          per.map((p) => p.dense),
          0.5,
        ),
      ),
      slowerLegP50Ms: round(percentile(slower, 0.5)),
      hybridP50Ms: round(
        percentile(
          per.map((p) => p.hybrid),
          0.5,
        ),
      ),
      hybridP99Ms: round(
        percentile(
          per.map((p) => p.hybrid),
          0.99,
        ),
      ),
    };
    const overhead = round((fanout.hybridP50Ms / fanout.slowerLegP50Ms - 1) * 100, 1);
    console.log('fan-out', fanout, `overhead ${overhead}%`);

    const report = {
      machine: machine(),
      command: 'npm run bench:backends',
      opensearch:
        node.url === process.env.OPENSEARCH_URL
          ? 'OPENSEARCH_URL'
          : 'scripts/opensearch.sh (2.19.6, one node, 1 GB heap)',
      queries: dataset.queries.length,
      ingestSeconds,
      quality,
      throughput,
      fanout: { ...fanout, overheadPercent: overhead },
    };
    const out = join(repoRoot(), 'docs/benchmarks');
    writeFileSync(join(out, 'backends.json'), `${JSON.stringify(report, null, 2)}\n`);
    await writeMarkdown(join(out, 'backends.md'), markdown(report));
    console.log('wrote docs/benchmarks/backends.{md,json}');
  } finally {
    await keel?.stop();
    await embeddings.close();
    await node.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

function markdown(r: any): string {
  const m = r.machine;
  const q = (b: string, k: string, metric: string) => fixed(r.quality[b][k][metric]);
  const t = (b: string, c: string) => r.throughput[b][c];
  return `# Search backends — the embedded store and OpenSearch

Generated by \`npm run bench:backends\` (test/bench/backends.bench.ts); raw numbers in
[backends.json](backends.json). Machine: ${m.cpu}, ${m.cores} cores, ${m.memoryGiB} GiB, Node
${m.node}, commit ${m.commit}, ${m.date}. OpenSearch: ${r.opensearch}, on the same 2 cores as Keel
and the load. Shared, noisy machine: compare within this run.

Both collections hold SciFact (5,183 abstracts) through the same Keel server and ingest path
(SQLite: ${r.ingestSeconds.sqlite} s, OpenSearch: ${r.ingestSeconds.opensearch} s, vectors included).

## Quality, SciFact test (${r.queries} queries), through Keel's evaluation

| backend | first stage | nDCG@10 | Recall@100 | MRR@10 |
| --- | --- | --- | --- | --- |
| SQLite FTS5 | BM25 | ${q('sqlite', 'bm25', 'ndcg@10')} | ${q('sqlite', 'bm25', 'recall@100')} | ${q('sqlite', 'bm25', 'mrr@10')} |
| SQLite FTS5 | BM25 + rerank (keel) | ${q('sqlite', 'bm25 + rerank', 'ndcg@10')} | ${q('sqlite', 'bm25 + rerank', 'recall@100')} | ${q('sqlite', 'bm25 + rerank', 'mrr@10')} |
| OpenSearch 2.19 | BM25 (english analyzer, best_fields, tie_breaker 0.3) | ${q('opensearch', 'bm25', 'ndcg@10')} | ${q('opensearch', 'bm25', 'recall@100')} | ${q('opensearch', 'bm25', 'mrr@10')} |
| OpenSearch 2.19 | BM25 + rerank (keel) | ${q('opensearch', 'bm25 + rerank', 'ndcg@10')} | ${q('opensearch', 'bm25 + rerank', 'recall@100')} | ${q('opensearch', 'bm25 + rerank', 'mrr@10')} |

Anchor: BEIR's Elasticsearch BM25 0.665 (multi_match, title and text).

## BM25 retrieval throughput (POST /v1/retrieve, top ${TOP_K}, grouped by document)

| backend | concurrency | queries/s | p50 ms | p99 ms | errors |
| --- | --- | --- | --- | --- | --- |
| SQLite FTS5 (search job in the pool) | 1 | ${t('sqlite', 'c1').qps} | ${t('sqlite', 'c1').p50Ms} | ${t('sqlite', 'c1').p99Ms} | ${t('sqlite', 'c1').errors} |
| SQLite FTS5 (search job in the pool) | 8 | ${t('sqlite', 'c8').qps} | ${t('sqlite', 'c8').p50Ms} | ${t('sqlite', 'c8').p99Ms} | ${t('sqlite', 'c8').errors} |
| OpenSearch (HTTP from the API) | 1 | ${t('opensearch', 'c1').qps} | ${t('opensearch', 'c1').p50Ms} | ${t('opensearch', 'c1').p99Ms} | ${t('opensearch', 'c1').errors} |
| OpenSearch (HTTP from the API) | 8 | ${t('opensearch', 'c8').qps} | ${t('opensearch', 'c8').p50Ms} | ${t('opensearch', 'c8').p99Ms} | ${t('opensearch', 'c8').errors} |

## Hybrid fan-out overhead on OpenSearch (target: ≤ 10% at p50)

Per query (${r.fanout.queries}, concurrency 1), BM25 alone, dense alone (query embedding + k-NN)
and hybrid (both in parallel, RRF), interleaved.

| | p50 ms |
| --- | --- |
| BM25 alone | ${r.fanout.bm25P50Ms} |
| dense alone | ${r.fanout.denseP50Ms} |
| slower leg of each query | ${r.fanout.slowerLegP50Ms} |
| hybrid | ${r.fanout.hybridP50Ms} (p99 ${r.fanout.hybridP99Ms}) |
| **overhead against the slower leg** | **${r.fanout.overheadPercent}%** |
`;
}

void main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
