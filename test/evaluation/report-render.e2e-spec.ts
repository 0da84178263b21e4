import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { PNG } from 'pngjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  renderHtml,
  type Comparison,
  type EvaluationReport,
  type MetricComparison,
  type PerQueryResult,
  type QueryDelta,
} from '@keel/evaluation';
import { chromiumMissingMessage, dumpDom, findChromium, screenshot } from '../support/chromium.js';

/**
 * The HTML report as a browser shows it: headless Chromium parses and paints a realistic report
 * (300 queries) and a comparison, and the screenshots are checked for their size and for the
 * chart colours. Chromium is required: without it the test fails with how to install it.
 *
 * KEEL_REPORT_EXAMPLE_DIR=<dir> also keeps both pages and their screenshots there.
 */

const QUERIES = 300;
const WIDTH = 1280;
const HEIGHT = 2300;
const METRICS = ['ndcg@10', 'mrr@10', 'recall@100'];

// mulberry32: a small seeded generator, so every run draws the same report.
function random(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const round4 = (v: number): number => Math.round(Math.min(1, Math.max(0, v)) * 10_000) / 10_000;

const TOPICS = ['cgroup quotas', 'worker pools', 'BM25 saturation', 'token budgets', 'MMR', 'RRF'];
const ASKS = ['how do', 'why does', 'what limits', 'when should I tune', 'does'];

function queryText(rand: () => number, i: number): string {
  if (i === 7) return 'why does <script>alert("x")</script> & "quotes" break reports?';
  const pick = <T>(items: readonly T[]): T => items[Math.floor(rand() * items.length)];
  return `${pick(ASKS)} ${pick(TOPICS)} interact with ${pick(TOPICS)} in a hybrid retrieval run`;
}

function metricsOf(ndcg: number, rand: () => number): Record<string, number> {
  return {
    'ndcg@10': ndcg,
    'mrr@10': round4(ndcg === 0 ? 0 : ndcg + (rand() - 0.3) * 0.3),
    'recall@100': round4(ndcg === 0 ? rand() * 0.5 : ndcg + rand() * 0.5),
  };
}

function makeRuns(): { a: EvaluationReport; b: EvaluationReport; comparison: Comparison } {
  const rand = random(20250101);
  const gauss = (): number => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  const perA: PerQueryResult[] = [];
  const perB: PerQueryResult[] = [];
  for (let i = 0; i < QUERIES; i += 1) {
    const u = rand();
    const a = u < 0.18 ? 0 : u < 0.33 ? 1 : round4((rand() + rand() + rand()) / 3 + 0.1);
    const b = rand() < 0.35 ? a : round4(a + 0.06 + 0.2 * gauss());
    const id = `q${String(i + 1).padStart(3, '0')}`;
    const query = queryText(rand, i);
    perA.push({ id, query, metrics: metricsOf(a, rand), retrieved: [`d${i}`, `d${i + 1}`] });
    perB.push({ id, query, metrics: metricsOf(b, rand), retrieved: [`d${i + 1}`, `d${i}`] });
  }
  const mean = (per: PerQueryResult[], metric: string): number =>
    per.reduce((sum, q) => sum + (q.metrics[metric] ?? 0), 0) / per.length;
  const base = {
    collection: 'scifact',
    dataset: { kind: 'retrieval' as const, name: 'beir/scifact', split: 'test', queries: QUERIES },
    metrics: METRICS,
    createdAt: '2025-01-01T10:00:00.000Z',
    finishedAt: '2025-01-01T10:00:41.000Z',
    keelVersion: '0.1.0',
  };
  const config = {
    topK: 100,
    budgetTokens: 2000,
    contextTopK: 8,
    encoding: 'o200k_base' as const,
    metrics: METRICS,
  };
  const a: EvaluationReport = {
    ...base,
    id: 'eval-bm25',
    label: 'bm25',
    config: { ...config, mode: 'bm25', rerank: 'none' },
    aggregate: Object.fromEntries(METRICS.map((m) => [m, mean(perA, m)])),
    perQuery: perA,
    timings: { totalMs: 41_000, queryP50Ms: 9.8, queryP95Ms: 31.2 },
  };
  const b: EvaluationReport = {
    ...base,
    id: 'eval-hybrid-keel',
    label: 'hybrid + rerank keel',
    config: { ...config, mode: 'hybrid', rerank: 'keel', rerankWeights: { bm25: 0.4, dense: 0.6 } },
    aggregate: Object.fromEntries(METRICS.map((m) => [m, mean(perB, m)])),
    perQuery: perB,
    timings: { totalMs: 88_000, queryP50Ms: 24.1, queryP95Ms: 70.5 },
  };
  // Built by hand (the p-values are made up): this test is about rendering, not statistics.
  const metrics = METRICS.map((metric, i): MetricComparison => {
    const x = a.aggregate[metric];
    const y = b.aggregate[metric];
    const p = [0.0002, 0.012, 0.31][i];
    return {
      metric,
      a: x,
      b: y,
      delta: y - x,
      relativeDelta: x === 0 ? null : (y - x) / x,
      randomization: { test: 'paired-randomization', pValue: p, detail: { iterations: 10_000 } },
      tTest: { test: 'paired-t', pValue: p * 1.2, detail: { df: QUERIES - 1 } },
      significant: p < 0.05,
    };
  });
  const deltas: QueryDelta[] = perA.map((qa, i) => {
    const va = qa.metrics['ndcg@10'];
    const vb = perB[i].metrics['ndcg@10'];
    return { id: qa.id, query: qa.query!, a: va, b: vb, delta: vb - va };
  });
  const comparison: Comparison = {
    a: { id: a.id, label: a.label },
    b: { id: b.id, label: b.label },
    queries: QUERIES,
    unpaired: { onlyA: [], onlyB: [] },
    alpha: 0.05,
    metrics,
    focus: 'ndcg@10',
    mostImproved: deltas
      .filter((d) => d.delta > 0)
      .sort((x, y) => y.delta - x.delta)
      .slice(0, 10),
    mostDegraded: deltas
      .filter((d) => d.delta < 0)
      .sort((x, y) => x.delta - y.delta)
      .slice(0, 10),
  };
  return { a, b, comparison };
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

type Rgb = readonly [number, number, number];

/** Pixel statistics of a screenshot: distinct colours, non-white share, pixels near a colour. */
function inspect(png: PNG) {
  const colours = new Set<number>();
  let nonWhite = 0;
  for (let i = 0; i < png.data.length; i += 4) {
    const [r, g, b] = [png.data[i], png.data[i + 1], png.data[i + 2]];
    colours.add((r << 16) | (g << 8) | b);
    if (r < 245 || g < 245 || b < 245) nonWhite += 1;
  }
  const near = (colour: Rgb, tolerance = 6): number => {
    let n = 0;
    for (let i = 0; i < png.data.length; i += 4) {
      if (
        Math.abs(png.data[i] - colour[0]) <= tolerance &&
        Math.abs(png.data[i + 1] - colour[1]) <= tolerance &&
        Math.abs(png.data[i + 2] - colour[2]) <= tolerance
      ) {
        n += 1;
      }
    }
    return n;
  };
  return { colours: colours.size, nonWhiteShare: nonWhite / (png.width * png.height), near };
}

const BAR_A: Rgb = [0x4e, 0x79, 0xa7];
const BAR_B: Rgb = [0xf2, 0x8e, 0x2b];
// The marks are drawn at 60 % opacity: a single mark on white shows these blends.
const blend = (hex: Rgb): Rgb => hex.map((c) => Math.round(0.6 * c + 0.4 * 255)) as unknown as Rgb;
const IMPROVED = blend([0x00, 0x9e, 0x73]);
const DEGRADED = blend([0xd5, 0x5e, 0x00]);

async function keepExample(html: string, png: string, name: string): Promise<void> {
  const keep = process.env.KEEL_REPORT_EXAMPLE_DIR;
  if (keep === undefined || keep === '') return;
  await mkdir(resolve(keep), { recursive: true });
  await copyFile(html, join(resolve(keep), `${name}.html`));
  await copyFile(png, join(resolve(keep), `${name}.png`));
}

describe('HTML evaluation report in headless Chromium', () => {
  const runs = makeRuns();
  let dir: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'keel-report-render-'));
  });

  afterAll(async () => {
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  function chromium(): string {
    const bin = findChromium();
    if (bin === undefined) expect.fail(chromiumMissingMessage());
    return bin;
  }

  it('paints the comparison page: histogram bars of both runs and one mark per query', async () => {
    const bin = chromium();
    const html = join(dir, 'comparison.html');
    const png = join(dir, 'comparison.png');
    await writeFile(html, renderHtml(runs), 'utf8');

    const dom = await dumpDom(html, { chromium: bin });
    expect(count(dom, '<svg')).toBe(2);
    expect(count(dom, '<rect class="bar"')).toBe(20);
    expect(count(dom, 'class="pt ')).toBe(QUERIES);
    expect(dom).not.toMatch(/<script/i);
    expect(dom).toContain('&lt;script&gt;alert("x")&lt;/script&gt;');

    await screenshot(html, png, { chromium: bin, width: WIDTH, height: HEIGHT });
    const image = PNG.sync.read(await readFile(png));
    expect([image.width, image.height]).toEqual([WIDTH, HEIGHT]);
    const stats = inspect(image);
    expect(stats.colours).toBeGreaterThan(200);
    expect(stats.nonWhiteShare).toBeGreaterThan(0.03);
    expect(stats.near(BAR_A)).toBeGreaterThan(2000);
    expect(stats.near(BAR_B)).toBeGreaterThan(2000);
    expect(stats.near(IMPROVED)).toBeGreaterThan(50);
    expect(stats.near(DEGRADED)).toBeGreaterThan(50);

    await keepExample(html, png, 'eval-comparison-example');
  });

  it('paints the page of one run: one series of bars and no scatter plot', async () => {
    const bin = chromium();
    const html = join(dir, 'report.html');
    const png = join(dir, 'report.png');
    await writeFile(html, renderHtml({ report: runs.b }), 'utf8');

    const dom = await dumpDom(html, { chromium: bin });
    expect(count(dom, '<svg')).toBe(1);
    expect(count(dom, '<rect class="bar"')).toBe(10);
    expect(count(dom, 'class="pt ')).toBe(0);

    await screenshot(html, png, { chromium: bin, width: WIDTH, height: 1400 });
    const image = PNG.sync.read(await readFile(png));
    expect([image.width, image.height]).toEqual([WIDTH, 1400]);
    const stats = inspect(image);
    expect(stats.colours).toBeGreaterThan(100);
    expect(stats.near(BAR_A)).toBeGreaterThan(2000);
    expect(stats.near(IMPROVED)).toBe(0);
    await keepExample(html, png, 'eval-report-example');
  });

  it('kills a Chromium that overruns its timeout', async () => {
    const bin = chromium();
    const html = join(dir, 'tiny.html');
    await writeFile(html, '<!doctype html><p>slow enough</p>', 'utf8');
    await expect(dumpDom(html, { chromium: bin, timeoutMs: 50 })).rejects.toThrow(/timed out/);
  });
});
