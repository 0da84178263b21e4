import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type {
  Comparison,
  CreateEvaluationDto,
  EvaluationReport,
  RerankMethodName,
} from '@keel/contracts';
import {
  compareRuns,
  gate,
  loadAnswerDataset,
  loadRetrievalDataset,
  renderHtml,
  renderJson,
  renderMarkdown,
  type ReportInput,
} from '@keel/evaluation';
import type { KeelClient } from './client.js';
import { connect } from './embedded.js';

export interface RunOptions {
  collection: string;
  beir?: string;
  split?: string;
  answers?: string;
  rerank?: string;
  topK?: string;
  contextTopK?: string;
  budget?: string;
  metrics?: string;
  label?: string;
  out?: string;
  url?: string;
  json?: boolean;
  trecRun?: string;
}

/** Exit status of a failed gate: distinct from 1 (an error), so CI can tell them apart. */
export const GATE_FAILED = 3;

function integer(name: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!Number.isSafeInteger(n) || n < 1) throw new Error(`${name} must be a positive integer`);
  return n;
}

/**
 * Reads the dataset here (streamed and validated line by line, so a bad line is reported with
 * its file and number before anything runs) and uploads it: the server needs no access to it.
 */
async function request(options: RunOptions): Promise<CreateEvaluationDto> {
  if (!options.beir === !options.answers)
    throw new Error('give exactly one of --beir DIR or --answers FILE');
  const topK = integer('--top-k', options.topK);
  const contextTopK = integer('--context-top-k', options.contextTopK);
  const budgetTokens = integer('--budget', options.budget);
  const config: NonNullable<CreateEvaluationDto['config']> = {
    ...(options.rerank ? { rerank: options.rerank as RerankMethodName } : {}),
    ...(topK ? { topK } : {}),
    ...(contextTopK ? { contextTopK } : {}),
    ...(budgetTokens ? { budgetTokens } : {}),
    ...(options.metrics ? { metrics: options.metrics.split(',').map((m) => m.trim()) } : {}),
  };
  const base = {
    collection: options.collection,
    ...(options.label ? { label: options.label } : {}),
    config,
  };
  if (options.beir) {
    const dataset = await loadRetrievalDataset(resolve(options.beir), options.split ?? 'test');
    const qrels: Record<string, Record<string, number>> = {};
    for (const [qid, docs] of dataset.qrels) qrels[qid] = Object.fromEntries(docs);
    return {
      ...base,
      dataset: { name: dataset.name, split: dataset.split, queries: dataset.queries, qrels },
    };
  }
  const dataset = await loadAnswerDataset(resolve(options.answers!));
  return { ...base, dataset: { name: dataset.name, items: dataset.items } };
}

/** Submits the evaluation and waits for its report; Ctrl-C cancels it on the server. */
async function evaluate(client: KeelClient, dto: CreateEvaluationDto): Promise<EvaluationReport> {
  const { id } = await client.createEvaluation(dto);
  const onInterrupt = () => {
    void client.cancelEvaluation(id).finally(() => process.exit(130));
  };
  process.once('SIGINT', onInterrupt);
  try {
    for (;;) {
      const evaluation = await client.getEvaluation(id);
      if (process.stderr.isTTY) {
        process.stderr.write(
          `\revaluation ${id}: ${evaluation.state} ${(evaluation.progress * 100).toFixed(0)}%`,
        );
      }
      if (evaluation.state === 'completed' && evaluation.report) {
        if (process.stderr.isTTY) process.stderr.write('\n');
        return evaluation.report as unknown as EvaluationReport;
      }
      if (evaluation.state === 'failed' || evaluation.state === 'cancelled') {
        const error = evaluation.error
          ? `${evaluation.error.code}: ${evaluation.error.message}`
          : 'no report';
        throw new Error(`evaluation ${id} ${evaluation.state}: ${error}`);
      }
      await new Promise((r) => setTimeout(r, 250));
    }
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

export function formatTable(report: EvaluationReport): string {
  const width = Math.max(...report.metrics.map((m) => m.length), 6);
  const lines = [
    `${report.label} · ${report.collection} · ${report.dataset.name}${report.dataset.split ? `/${report.dataset.split}` : ''} · ${report.dataset.queries} queries · evaluation ${report.id}`,
    '',
    `${'metric'.padEnd(width)}  value`,
    `${'-'.repeat(width)}  ------`,
    ...report.metrics.map((m) => `${m.padEnd(width)}  ${(report.aggregate[m] ?? 0).toFixed(4)}`),
    '',
    `${(report.timings.totalMs / 1000).toFixed(1)} s · per query p50 ${report.timings.queryP50Ms} ms, p95 ${report.timings.queryP95Ms} ms`,
  ];
  return lines.join('\n');
}

export function formatComparison(c: Comparison): string {
  const width = Math.max(...c.metrics.map((m) => m.metric.length), 6);
  const lines = [
    `B '${c.b.label}' against A '${c.a.label}' · ${c.queries} paired queries · alpha ${c.alpha}`,
    '',
    `${'metric'.padEnd(width)}  A       B       delta    p (rand.)  p (t)     significant`,
    ...c.metrics.map(
      (m) =>
        `${m.metric.padEnd(width)}  ${m.a.toFixed(4)}  ${m.b.toFixed(4)}  ${(m.delta >= 0 ? '+' : '') + m.delta.toFixed(4)}  ${m.randomization.pValue.toFixed(4).padEnd(9)}  ${m.tTest.pValue.toFixed(4).padEnd(8)}  ${m.significant ? 'yes' : 'no'}`,
    ),
  ];
  for (const [title, list] of [
    ['most improved', c.mostImproved],
    ['most degraded', c.mostDegraded],
  ] as const) {
    if (list.length === 0) continue;
    lines.push('', `${title} (${c.focus}):`);
    for (const q of list.slice(0, 5)) {
      lines.push(
        `  ${q.id}  ${q.a.toFixed(3)} → ${q.b.toFixed(3)}  ${(q.query ?? '').slice(0, 70)}`,
      );
    }
  }
  return lines.join('\n');
}

/** report.json, report.md and report.html in `dir`; returns the paths. */
function writeReports(dir: string, input: ReportInput): string[] {
  mkdirSync(dir, { recursive: true });
  const files: Array<[string, string]> = [
    ['report.json', renderJson(input)],
    ['report.md', renderMarkdown(input)],
    ['report.html', renderHtml(input)],
  ];
  return files.map(([name, text]) => {
    const file = join(dir, name);
    writeFileSync(file, text);
    return file;
  });
}

async function runOnce(options: RunOptions): Promise<EvaluationReport> {
  const dto = await request(options);
  const target = await connect(options.url);
  try {
    return await evaluate(target.client, dto);
  } finally {
    await target.close?.();
  }
}

export async function evalRun(options: RunOptions): Promise<void> {
  const report = await runOnce(options);
  const dir = resolve(options.out ?? join('keel-reports', report.id));
  const files = writeReports(dir, { report });
  process.stdout.write(
    options.json ? `${JSON.stringify(report.aggregate, null, 2)}\n` : `${formatTable(report)}\n`,
  );
  if (options.trecRun) {
    writeFileSync(resolve(options.trecRun), trecRun(report));
    files.push(resolve(options.trecRun));
  }
  process.stdout.write(`reports: ${files.join(', ')}\n`);
}

/**
 * The run in TREC format (`qid Q0 docid rank score tag`), for trec_eval or any IR toolkit. Scores
 * follow Keel's order, so every tool ranks exactly what Keel returned.
 */
export function trecRun(report: EvaluationReport): string {
  const tag = report.label.replace(/\s+/gu, '_') || 'keel';
  const lines: string[] = [];
  for (const q of report.perQuery) {
    const docs = q.retrieved ?? [];
    docs.forEach((doc, i) => lines.push(`${q.id} Q0 ${doc} ${i + 1} ${docs.length - i} ${tag}`));
  }
  return lines.length > 0 ? `${lines.join('\n')}\n` : '';
}

/** A report file (report.json of `keel eval`), or an evaluation id on the server. */
async function loadReport(ref: string, url: string | undefined): Promise<EvaluationReport> {
  const file = resolve(ref);
  if (existsSync(file)) {
    const parsed = JSON.parse(readFileSync(file, 'utf8')) as EvaluationReport;
    if (!Array.isArray(parsed.perQuery) || typeof parsed.aggregate !== 'object') {
      throw new Error(`${file}: not a Keel evaluation report (no perQuery/aggregate)`);
    }
    return parsed;
  }
  const target = await connect(url);
  try {
    const evaluation = await target.client.getEvaluation(ref);
    if (!evaluation.report)
      throw new Error(`evaluation ${ref} is ${evaluation.state}, not completed`);
    return evaluation.report as unknown as EvaluationReport;
  } finally {
    await target.close?.();
  }
}

export async function evalCompare(
  a: string,
  b: string,
  options: { metric?: string; alpha?: string; out?: string; url?: string; json?: boolean },
): Promise<void> {
  const [ra, rb] = [await loadReport(a, options.url), await loadReport(b, options.url)];
  const alpha = options.alpha === undefined ? undefined : Number(options.alpha);
  const comparison = compareRuns(ra, rb, {
    ...(options.metric ? { focus: options.metric } : {}),
    ...(alpha !== undefined ? { alpha } : {}),
  });
  const dir = resolve(
    options.out ?? join('keel-reports', `compare-${ra.id.slice(0, 8)}-${rb.id.slice(0, 8)}`),
  );
  const files = writeReports(dir, { comparison, a: ra, b: rb });
  process.stdout.write(
    options.json ? `${JSON.stringify(comparison, null, 2)}\n` : `${formatComparison(comparison)}\n`,
  );
  process.stdout.write(`reports: ${files.join(', ')}\n`);
}

export async function evalGate(
  options: Partial<RunOptions> & {
    baseline: string;
    current?: string;
    metric: string;
    maxDrop: string;
    alpha: string;
    writeCurrent?: string;
  },
): Promise<void> {
  const baseline = await loadReport(options.baseline, options.url);
  let current: EvaluationReport;
  if (options.current) {
    current = await loadReport(options.current, options.url);
  } else {
    if (!options.collection) {
      throw new Error('give --current FILE, or --collection with --beir to run the evaluation');
    }
    current = await runOnce({
      ...baselineOptions(baseline),
      ...defined(options),
      collection: options.collection,
    });
  }
  if (options.writeCurrent) {
    writeFileSync(resolve(options.writeCurrent), renderJson({ report: current }));
  }
  const maxDrop = Number(options.maxDrop);
  const alpha = Number(options.alpha);
  const result = gate(baseline, current, { metric: options.metric, maxDrop, alpha });
  process.stdout.write(`gate ${result.pass ? 'PASS' : 'FAIL'}: ${result.reason}\n`);
  if (!result.pass) process.exitCode = GATE_FAILED;
}

/** The options that were given, so they can override defaults spread before them. */
function defined<T extends object>(options: T): Partial<T> {
  return Object.fromEntries(
    Object.entries(options).filter(([, v]) => v !== undefined),
  ) as Partial<T>;
}

/**
 * How the baseline was run, as `keel eval` options: the gate measures the current build the same
 * way (rerank, depth, budget, metrics, split) unless an option says otherwise, so a changed
 * setting cannot pass for a changed build.
 */
export function baselineOptions(baseline: EvaluationReport): Partial<RunOptions> {
  const c = baseline.config;
  return {
    rerank: c.rerank,
    topK: String(c.topK),
    contextTopK: String(c.contextTopK),
    budget: String(c.budgetTokens),
    metrics: c.metrics.join(','),
    ...(baseline.dataset.split !== undefined ? { split: baseline.dataset.split } : {}),
  };
}
