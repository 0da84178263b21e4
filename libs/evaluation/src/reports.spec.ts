import { describe, expect, it } from 'vitest';
import { histogramBins, renderHtml, renderJson, renderMarkdown } from './reports.js';
import type { Comparison, EvaluationReport, MetricComparison, PerQueryResult } from './types.js';

function report(
  id: string,
  label: string,
  perQuery: PerQueryResult[],
  overrides: Partial<EvaluationReport> = {},
): EvaluationReport {
  const metrics = ['ndcg@10', 'recall@100'];
  const mean = (metric: string): number =>
    perQuery.reduce((sum, query) => sum + (query.metrics[metric] ?? 0), 0) / perQuery.length;
  return {
    id,
    label,
    collection: 'scifact',
    dataset: { kind: 'retrieval', name: 'beir/scifact', split: 'test', queries: perQuery.length },
    config: {
      mode: 'bm25',
      topK: 100,
      rerank: 'none',
      budgetTokens: 2000,
      contextTopK: 8,
      encoding: 'o200k_base',
      metrics,
    },
    metrics,
    aggregate: Object.fromEntries(metrics.map((metric) => [metric, mean(metric)])),
    perQuery,
    timings: { totalMs: 12_345, queryP50Ms: 4.25, queryP95Ms: 18.5 },
    createdAt: '2025-01-01T10:00:00.000Z',
    finishedAt: '2025-01-01T10:00:12.345Z',
    keelVersion: '0.1.0',
    ...overrides,
  };
}

const q = (id: string, ndcg: number, query?: string): PerQueryResult => ({
  id,
  ...(query !== undefined ? { query } : {}),
  metrics: { 'ndcg@10': ndcg, 'recall@100': Math.min(1, ndcg + 0.2) },
  retrieved: ['d1', 'd2', 'd3', 'd4'],
});

const NASTY = 'why <script>alert("x")</script> & a|b *bold*?';

const runA = report('run-a', 'bm25', [
  q('q1', 0.2, NASTY),
  q('q2', 0.5, 'what limits the worker pool'),
  q('q3', 1, 'how are passages packed'),
  q('q4', 0, 'a query with no relevant result'),
]);
const runB = report(
  'run-b',
  'hybrid <b>rerank</b>',
  [
    q('q1', 0.6, NASTY),
    q('q2', 0.3, 'what limits the worker pool'),
    q('q3', 1, 'how are passages packed'),
    q('q5', 0.7, 'only in B'),
  ],
  { config: { ...runA.config, mode: 'hybrid', rerank: 'keel', rerankWeights: { bm25: 0.4 } } },
);

function metricComparison(metric: string, a: number, b: number, p: number): MetricComparison {
  return {
    metric,
    a,
    b,
    delta: b - a,
    relativeDelta: a === 0 ? null : (b - a) / a,
    randomization: { test: 'paired-randomization', pValue: p, detail: { iterations: 10_000 } },
    tTest: { test: 'paired-t', pValue: p * 1.5, detail: { df: 2 } },
    significant: p < 0.05,
  };
}

const comparison: Comparison = {
  a: { id: 'run-a', label: 'bm25' },
  b: { id: 'run-b', label: 'hybrid <b>rerank</b>' },
  queries: 3,
  unpaired: { onlyA: ['q4'], onlyB: ['q5'] },
  alpha: 0.05,
  metrics: [
    metricComparison('ndcg@10', 0.5, 0.6, 0.00001),
    metricComparison('recall@100', 0, 0.1, 0.4),
  ],
  focus: 'ndcg@10',
  mostImproved: [{ id: 'q1', query: NASTY, a: 0.2, b: 0.6, delta: 0.4 }],
  mostDegraded: [],
};

const both = { comparison, a: runA, b: runB };

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe('renderJson', () => {
  it('writes the report with sorted keys, two-space indent and a final newline', () => {
    const json = renderJson({ report: runA });
    expect(JSON.parse(json)).toEqual(runA);
    expect(json.endsWith('}\n')).toBe(true);
    expect(json.split('\n')[1]).toBe('  "aggregate": {');
    const topKeys = Object.keys(JSON.parse(json));
    expect(topKeys).toEqual([...topKeys].sort());
  });

  it('is the same for the same data whatever the key order', () => {
    const reordered = Object.fromEntries(Object.entries(runA).reverse()) as EvaluationReport;
    expect(renderJson({ report: reordered })).toBe(renderJson({ report: runA }));
  });

  it('for a comparison, holds it and both runs without their per-query values', () => {
    const parsed = JSON.parse(renderJson(both));
    expect(parsed.comparison).toEqual(comparison);
    expect(parsed.a.aggregate).toEqual(runA.aggregate);
    expect(parsed.a.perQuery).toBeUndefined();
    expect(parsed.b.label).toBe('hybrid <b>rerank</b>');
  });

  it('refuses a comparison of other reports', () => {
    expect(() => renderJson({ comparison, a: runB, b: runA })).toThrow(/not of the reports given/);
  });
});

describe('renderMarkdown of one run', () => {
  const md = renderMarkdown({ report: runA });

  it('has the title, the run, the metrics to 4 decimals and the timings', () => {
    expect(md.startsWith('# Evaluation report: bm25\n')).toBe(true);
    expect(md).toContain('| Dataset | beir/scifact (test), retrieval, 4 queries |');
    expect(md).toContain('| Mode | bm25 |');
    expect(md).toContain('| Metric | Value |\n| --- | ---: |\n| ndcg@10 | 0.4250 |');
    expect(md).toContain('| recall@100 | 0.5750 |');
    expect(md).toContain('| 12.35 s | 4.3 ms | 18.5 ms |');
  });

  it('lists the lowest-scoring queries with their text escaped for Markdown', () => {
    expect(md).toContain('## Lowest ndcg@10');
    expect(md).toContain('| q4 | a query with no relevant result | 0.0000 | d1, d2, d3 |');
    expect(md).toContain('why \\<script>alert("x")\\</script> & a\\|b \\*bold\\*?');
    expect(md).not.toMatch(/(?<!\\)<\/?script/);
  });

  it('honours the focus metric and the number of query rows', () => {
    const short = renderMarkdown({ report: runA }, { focus: 'recall@100', queryRows: 1 });
    expect(short).toContain('## Lowest recall@100');
    expect(short).toContain('| q4 | a query with no relevant result | 0.2000 |');
    expect(short).not.toContain('| q1 |');
  });

  it('shows the context budget only for answer-level runs', () => {
    expect(md).not.toContain('Context budget');
    const answers = report('ans', 'answers', [q('q1', 1)], {
      dataset: { kind: 'answers', name: 'faq', queries: 1 },
    });
    expect(renderMarkdown({ report: answers })).toContain(
      '| Context budget | 2000 tokens (o200k\\_base) |',
    );
  });
});

describe('renderMarkdown of a comparison', () => {
  const md = renderMarkdown(both);

  it('has a title and the pairing, with unpaired queries named', () => {
    expect(md.startsWith('# Comparison: hybrid \\<b>rerank\\</b> vs bm25\n')).toBe(true);
    expect(md).toContain('3 queries paired by id');
    expect(md).toContain('Not paired: 1 query only in A (q4), 1 only in B (q5).');
  });

  it('puts both runs side by side, differences in bold', () => {
    expect(md).toContain('| Mode | **bm25** | **hybrid** |');
    expect(md).toContain('| Rerank | **none** | **keel (bm25 0.4)** |');
    expect(md).toContain('| Collection | scifact | scifact |');
  });

  it('has the per-metric table with Δ, relative Δ, both p-values and significance', () => {
    expect(md).toContain(
      '| Metric | A | B | Δ | Rel. Δ | p (randomization) | p (t-test) | Significant |\n' +
        '| --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |\n' +
        '| ndcg@10 | 0.5000 | 0.6000 | +0.1000 | +20.00% | <0.0001 | <0.0001 | **yes** |\n' +
        '| recall@100 | 0.0000 | 0.1000 | +0.1000 | n/a | 0.4000 | 0.6000 | no |',
    );
  });

  it('lists the most improved and most degraded queries', () => {
    expect(md).toContain('## Most improved on ndcg@10');
    expect(md).toContain('| q1 | why \\<script>');
    expect(md).toContain('| 0.2000 | 0.6000 | +0.4000 |');
    expect(md).toContain('## Most degraded on ndcg@10\n\nNo query degraded.');
  });

  it('formats negative deltas and timings of both runs', () => {
    const worse = renderMarkdown({
      ...both,
      comparison: {
        ...comparison,
        metrics: [metricComparison('ndcg@10', 0.5, 0.4, 0.03)],
        mostDegraded: [{ id: 'q2', a: 0.5, b: 0.3, delta: -0.2 }],
      },
    });
    expect(worse).toContain('| ndcg@10 | 0.5000 | 0.4000 | -0.1000 | -20.00% | 0.0300 | 0.0450 |');
    expect(worse).toContain('| q2 |  | 0.5000 | 0.3000 | -0.2000 |');
    expect(worse).toContain('| Total | 12.35 s | 12.35 s |');
  });
});

describe('histogramBins', () => {
  it('bins by 0.1 with the last bin closed and clamps outliers', () => {
    expect(histogramBins([0, 0.05, 0.1, 0.3, 0.7, 0.99, 1, -0.2, 1.5, Number.NaN])).toEqual([
      3, 1, 0, 1, 0, 0, 0, 1, 0, 3,
    ]);
  });
});

describe('renderHtml', () => {
  const single = renderHtml({ report: runA });
  const compared = renderHtml(both);

  it('is one self-contained page: no script, no URL, a policy that forbids both', () => {
    for (const html of [single, compared]) {
      expect(html.startsWith('<!doctype html>')).toBe(true);
      expect(html).not.toMatch(/https?:\/\//);
      expect(html).not.toMatch(/<script|<link|<img|<iframe|src=|url\(/i);
      expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
      expect(count(html, '<svg')).toBe(count(html, '</svg>'));
    }
  });

  it('escapes user text everywhere', () => {
    expect(single).toContain('why &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; a|b');
    expect(compared).toContain('hybrid &lt;b&gt;rerank&lt;/b&gt;');
    expect(compared).not.toContain('<b>rerank');
    expect(compared).not.toContain('alert("x")');
  });

  it('has the tables of the Markdown, numbers formatted', () => {
    expect(count(single, '<table>')).toBe(4);
    expect(single).toContain('<tr><td>ndcg@10</td><td class="num">0.4250</td></tr>');
    expect(count(compared, '<table>')).toBe(4); // runs, metrics, improved, timings
    expect(compared).toContain('<p class="empty">No query degraded.</p>');
    expect(compared).toContain(
      '<td class="num up">+0.1000</td><td class="num up">+20.00%</td>' +
        '<td class="num">&lt;0.0001</td><td class="num">&lt;0.0001</td><td><strong>yes</strong></td>',
    );
  });

  it('draws one bar per bin for one run and two per bin for a comparison', () => {
    expect(count(single, '<rect class="bar"')).toBe(10);
    expect(count(compared, '<rect class="bar"')).toBe(20);
    expect(count(compared, 'data-series="1"')).toBe(10);
    expect(single).toContain('<title>bm25: 1 query in [0.9, 1.0]</title>');
    expect(count(single, 'class="chart scatter"')).toBe(0);
  });

  it('draws one mark per paired query, coloured by outcome, with the diagonal', () => {
    expect(count(compared, 'class="chart scatter"')).toBe(1);
    expect(count(compared, 'class="pt ')).toBe(3);
    expect(count(compared, 'class="pt improved"')).toBe(1);
    expect(count(compared, 'class="pt degraded"')).toBe(1);
    expect(count(compared, 'class="pt equal"')).toBe(1);
    expect(compared).toContain('class="diagonal"');
    expect(compared).toContain('improved: 1');
    expect(compared).toContain('A: bm25 — ndcg@10');
    expect(count(compared, 'class="stack"')).toBe(0);
  });

  it('counts queries that share one spot of the scatter plot', () => {
    const zeros = (id: string, n: number) =>
      report(
        id,
        id,
        [...Array(n).keys()].map((i) => q(`z${i}`, 0)),
      );
    const html = renderHtml({
      comparison: { ...comparison, a: { id: 'za', label: 'za' }, b: { id: 'zb', label: 'zb' } },
      a: zeros('za', 4),
      b: zeros('zb', 4),
    });
    expect(count(html, 'class="pt equal"')).toBe(4);
    expect(count(html, 'class="stack"')).toBe(1);
    expect(html).toMatch(/class="stack"[^>]*>×4</);
  });
});
