import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { describe, expect, it } from 'vitest';
import { renderChart } from './chart.js';
import type { StepResult } from './engine.js';
import { markdownTable, renderMarkdown, renderSummary } from './report.js';
import { LOADTEST_KIND, LOADTEST_VERSION, type LoadTestResult } from './result.js';

const lat = (p50: number) => ({
  count: 10,
  min: p50 / 2,
  mean: p50,
  p50,
  p90: p50 * 2,
  p99: p50 * 4,
  p999: p50 * 8,
  max: p50 * 9,
});

function step(index: number, rps: number, p50: number, status: 'held' | 'broke'): StepResult {
  return {
    index,
    label: `step ${rps} rps for 2 s`,
    plan: { kind: 'step', fromRps: rps, toRps: rps, seconds: 2 },
    offeredRps: rps,
    counts: {
      scheduled: rps * 2,
      sent: rps * 2,
      dropped: 0,
      late: 0,
      completed: rps * 2,
      ok: rps * 2,
      errors: 0,
    },
    rates: { sendRps: rps, throughputRps: rps },
    latencyMs: lat(p50),
    serviceTimeMs: lat(p50),
    sendLagMs: lat(0.1),
    latencyHistogramUs: '',
    byEndpoint: {},
    errors: { byStatus: {}, byCode: {} },
    timing: { startMs: 0, lastSendMs: 1900, drainedMs: 2000 },
    server: null,
    serverError: 'ECONNREFUSED',
    workers: [],
    truncated: null,
    verdict: {
      status,
      reasons: status === 'held' ? [] : ['p99 > SLO'],
      errorRate: 0,
      lateOrDroppedRate: 0,
    },
  };
}

const result = {
  kind: LOADTEST_KIND,
  version: LOADTEST_VERSION,
  id: 'loadtest-x',
  startedAt: 's',
  finishedAt: 'f',
  target: { url: 'http://127.0.0.1:3000', collection: 'sample & co', mode: 'embedded' },
  setup: {
    health: { status: 200, details: {} },
    runtime: null,
    workers: [],
    generator: { node: 'v24', platform: 'linux', hostCores: 2 },
  },
  options: {
    phases: null,
    findCapacity: null,
    arrivals: 'uniform',
    seed: 1,
    mix: { retrieve: 1 },
    topK: null,
    timeoutMs: 1000,
    maxInFlight: 10,
    lateMs: 20,
    maxRequests: 100,
    maxSeconds: 10,
    queries: { source: 'q', split: 'test', count: 3 },
    criteria: { sloP99Ms: 100, errorBudget: 0.01 },
  },
  steps: [step(0, 5, 2, 'held'), step(1, 10, 5, 'held'), step(2, 20, 40, 'broke')],
  totals: {} as LoadTestResult['totals'],
  stopped: 'broken',
  capacity: {
    highestRateHeld: 10,
    heldStep: 1,
    brokenStep: 2,
    lowerBound: false,
    sloP99Ms: 100,
    errorBudget: 0.01,
  },
} satisfies LoadTestResult;

describe('reports', () => {
  it('the SVG chart is well-formed XML with the p50, p99 and p99.9 series, one point per step', () => {
    const svg = renderChart(result);
    expect(XMLValidator.validate(svg)).toBe(true);
    const doc = new XMLParser({
      ignoreAttributes: false,
      isArray: (name) => ['g', 'circle'].includes(name),
    }).parse(svg);
    const series = (doc.svg.g as any[]).filter((g) => g['@_class'] === 'series');
    expect(series.map((g) => g['@_data-series'])).toEqual(['p50', 'p99', 'p99.9']);
    for (const g of series) expect(g.circle).toHaveLength(3);
    expect(svg).toContain('SLO p99 100 ms');
    expect(svg).toContain('held 10 rps');
    expect(svg).toContain('sample &#38; co');
  });

  it('Markdown: a summary row per step and a table for each step; stdout: the summary', () => {
    const md = renderMarkdown(result);
    expect(md).toMatch(/Highest rate that held: \*\*10 requests\/s\*\* \(step 2/);
    expect(md).toContain('### Step 3 — step 20 rps for 2 s');
    expect(md.match(/^\| measure /gmu)).toHaveLength(3);
    expect(md).toContain('no /metrics (ECONNREFUSED)');
    expect(md).toContain('![latency percentiles against offered load](latency.svg)');
    const text = renderSummary(result);
    expect(text.split('\n').filter((l) => /^\d+ {2}step/u.test(l))).toHaveLength(3);
    expect(text).toMatch(/broke: p99 > SLO/);
  });

  it('pads Markdown tables and escapes pipes', () => {
    expect(markdownTable(['a', 'bb'], [['1', 'x|y']], ['r', 'l'])).toBe(
      ['|   a | bb   |', '| --: | ---- |', '|   1 | x\\|y |'].join('\n'),
    );
  });
});
