/**
 * Evaluation reports as JSON, Markdown and one self-contained HTML page (inline CSS and SVG
 * charts drawn here as strings: no script, no font, no URL), for one run (`keel eval`) or for
 * two runs and their comparison (`keel eval compare A B`). Pure functions (STYLE.md #15).
 *
 * Markdown and HTML are rendered from one description of the report (tables and their cells),
 * so the two always say the same thing; the HTML adds the charts.
 */

import type {
  Comparison,
  EvaluationConfig,
  EvaluationReport,
  MetricComparison,
  MetricName,
  PerQueryResult,
  QueryDelta,
} from './types.js';

/** Two runs and the comparison of B against A (`compareRuns(a, b)`). */
export interface ComparisonInput {
  comparison: Comparison;
  a: EvaluationReport;
  b: EvaluationReport;
}

/** What every renderer takes: one run (`keel eval`) or a comparison (`keel eval compare`). */
export type ReportInput = { report: EvaluationReport } | ComparisonInput;

export interface RenderOptions {
  /**
   * The metric of the charts and of the lowest-scoring queries of a single run; default ndcg@10,
   * else token_f1, else the run's first metric. A comparison always uses its own `focus`, so
   * its charts and its lists of most improved and degraded queries agree.
   */
  focus?: MetricName;
  /** Queries listed per table of queries; default 10. */
  queryRows?: number;
}

const DEFAULT_QUERY_ROWS = 10;
const QUERY_TEXT_CHARS = 80;
const FOCUS_PREFERENCE: readonly MetricName[] = ['ndcg@10', 'token_f1'];

// ---------------------------------------------------------------------------------------------
// JSON

/**
 * The report, or the comparison with both runs' summaries (everything but the per-query
 * values, which the two report files already hold), as 2-space JSON with keys sorted at every
 * level, so the same data always gives the same bytes and reports diff cleanly.
 */
export function renderJson(input: ReportInput): string {
  const value =
    'report' in input
      ? input.report
      : {
          comparison: checkedComparison(input).comparison,
          a: withoutPerQuery(input.a),
          b: withoutPerQuery(input.b),
        };
  return `${JSON.stringify(sortKeys(value), null, 2)}\n`;
}

function withoutPerQuery(report: EvaluationReport): Omit<EvaluationReport, 'perQuery'> {
  const { perQuery: _perQuery, ...summary } = report;
  return summary;
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((key) => [key, sortKeys((value as Record<string, unknown>)[key])]),
    );
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// The description both Markdown and HTML render

type Tone = 'up' | 'down';

interface Cell {
  text: string;
  strong?: boolean;
  tone?: Tone;
}

interface Column {
  title: string;
  numeric?: boolean;
}

interface Table {
  columns: Column[];
  rows: Cell[][];
}

type Chart =
  | { kind: 'histogram'; metric: MetricName; series: Array<{ label: string; values: number[] }> }
  | { kind: 'scatter'; metric: MetricName; a: string; b: string; points: ScatterPoint[] };

interface ScatterPoint {
  id: string;
  query?: string;
  a: number;
  b: number;
}

interface Section {
  heading: string;
  /** Plain-text paragraphs before the table. */
  notes?: string[];
  table?: Table;
  /** Said instead of an empty table. */
  empty?: string;
  /** HTML only. */
  charts?: Chart[];
}

interface ReportView {
  title: string;
  /** Plain-text paragraphs under the title. */
  intro: string[];
  sections: Section[];
}

function checkedComparison(input: ComparisonInput): ComparisonInput {
  const { comparison, a, b } = input;
  if (comparison.a.id !== a.id || comparison.b.id !== b.id) {
    throw new Error(
      `the comparison is of reports ${comparison.a.id} and ${comparison.b.id}, ` +
        `not of the reports given (${a.id} and ${b.id})`,
    );
  }
  return input;
}

function view(input: ReportInput, options: RenderOptions): ReportView {
  const rows = options.queryRows ?? DEFAULT_QUERY_ROWS;
  return 'report' in input
    ? reportView(input.report, options.focus ?? defaultFocus(input.report), rows)
    : comparisonView(checkedComparison(input), rows);
}

function defaultFocus(report: EvaluationReport): MetricName {
  return (
    FOCUS_PREFERENCE.find((metric) => report.metrics.includes(metric)) ??
    report.metrics[0] ??
    Object.keys(report.aggregate)[0] ??
    'ndcg@10'
  );
}

/** The report's metrics in display order, then any other aggregate (e.g. `faithfulness`). */
function metricOrder(report: EvaluationReport): MetricName[] {
  return [...new Set([...report.metrics, ...Object.keys(report.aggregate)])];
}

function reportView(report: EvaluationReport, focus: MetricName, rows: number): ReportView {
  const lowest = report.perQuery
    .filter((query) => Number.isFinite(query.metrics[focus]))
    .sort((x, y) => (x.metrics[focus] ?? 0) - (y.metrics[focus] ?? 0) || compareIds(x.id, y.id))
    .slice(0, rows);
  return {
    title: `Evaluation report: ${report.label}`,
    intro: [
      `${datasetText(report)} against collection ${report.collection}, ` +
        `finished ${report.finishedAt}.`,
    ],
    sections: [
      {
        heading: 'Run',
        table: {
          columns: [{ title: 'Setting' }, { title: 'Value' }],
          rows: runRows(report).map(([name, value]) => [{ text: name }, { text: value }]),
        },
      },
      {
        heading: 'Metrics',
        notes: ['Means over all queries of the dataset; a query without results scores 0.'],
        table: {
          columns: [{ title: 'Metric' }, { title: 'Value', numeric: true }],
          rows: metricOrder(report).map((metric) => [
            { text: metric },
            { text: fixed(report.aggregate[metric]) },
          ]),
        },
        charts: [
          {
            kind: 'histogram',
            metric: focus,
            series: [{ label: report.label, values: valuesOf(report.perQuery, focus) }],
          },
        ],
      },
      {
        heading: 'Timings',
        table: {
          columns: [
            { title: 'Total', numeric: true },
            { title: 'Query p50', numeric: true },
            { title: 'Query p95', numeric: true },
          ],
          rows: [
            [
              { text: duration(report.timings.totalMs) },
              { text: duration(report.timings.queryP50Ms) },
              { text: duration(report.timings.queryP95Ms) },
            ],
          ],
        },
      },
      {
        heading: `Lowest ${focus}`,
        notes:
          lowest.length > 0
            ? [`The ${queries(lowest.length)} with the lowest ${focus}, to look at first.`]
            : [],
        empty: `No query has a value for ${focus}.`,
        table: {
          columns: [
            { title: 'Query' },
            { title: 'Text' },
            { title: focus, numeric: true },
            { title: report.dataset.kind === 'answers' ? 'Answer' : 'Top retrieved' },
          ],
          rows: lowest.map((query) => [
            { text: query.id },
            { text: truncate(query.query ?? '') },
            { text: fixed(query.metrics[focus]) },
            { text: truncate(query.answer ?? query.retrieved?.slice(0, 3).join(', ') ?? '') },
          ]),
        },
      },
    ],
  };
}

function comparisonView({ comparison, a, b }: ComparisonInput, rows: number): ReportView {
  const focus = comparison.focus;
  const { onlyA, onlyB } = comparison.unpaired;
  const intro = [
    `A = ${a.label} (${a.id}); B = ${b.label} (${b.id}). ` +
      `${queries(comparison.queries)} paired by id; Δ = B − A; significant when the paired ` +
      `randomization test gives p < ${comparison.alpha}.`,
  ];
  if (onlyA.length > 0 || onlyB.length > 0) {
    intro.push(
      `Not paired: ${queries(onlyA.length)} only in A${idList(onlyA)}, ` +
        `${onlyB.length} only in B${idList(onlyB)}.`,
    );
  }
  const runA = new Map(runRows(a));
  const runB = new Map(runRows(b));
  const runNames = [...new Set([...runA.keys(), ...runB.keys()])];
  const deltaTable = (deltas: readonly QueryDelta[]): Table => ({
    columns: [
      { title: 'Query' },
      { title: 'Text' },
      { title: 'A', numeric: true },
      { title: 'B', numeric: true },
      { title: 'Δ', numeric: true },
    ],
    rows: deltas
      .slice(0, rows)
      .map((delta) => [
        { text: delta.id },
        { text: truncate(delta.query ?? '') },
        { text: fixed(delta.a) },
        { text: fixed(delta.b) },
        { text: signed(delta.delta), ...tone(delta.delta) },
      ]),
  });
  return {
    title: `Comparison: ${b.label} vs ${a.label}`,
    intro,
    sections: [
      {
        heading: 'Runs',
        notes: ['Values that differ between the runs are in bold.'],
        table: {
          columns: [{ title: 'Setting' }, { title: `A: ${a.label}` }, { title: `B: ${b.label}` }],
          rows: runNames.map((name) => {
            const x = runA.get(name) ?? '';
            const y = runB.get(name) ?? '';
            const differs = x !== y && !['Report', 'Created', 'Finished'].includes(name);
            return [{ text: name }, { text: x, strong: differs }, { text: y, strong: differs }];
          }),
        },
      },
      {
        heading: 'Metrics',
        table: {
          columns: [
            { title: 'Metric' },
            { title: 'A', numeric: true },
            { title: 'B', numeric: true },
            { title: 'Δ', numeric: true },
            { title: 'Rel. Δ', numeric: true },
            { title: 'p (randomization)', numeric: true },
            { title: 'p (t-test)', numeric: true },
            { title: 'Significant' },
          ],
          rows: comparison.metrics.map(metricRow),
        },
        charts: [
          {
            kind: 'histogram',
            metric: focus,
            series: [
              { label: `A: ${a.label}`, values: valuesOf(a.perQuery, focus) },
              { label: `B: ${b.label}`, values: valuesOf(b.perQuery, focus) },
            ],
          },
          { kind: 'scatter', metric: focus, a: a.label, b: b.label, points: pairs(a, b, focus) },
        ],
      },
      {
        heading: `Most improved on ${focus}`,
        table: deltaTable(comparison.mostImproved),
        empty: 'No query improved.',
      },
      {
        heading: `Most degraded on ${focus}`,
        table: deltaTable(comparison.mostDegraded),
        empty: 'No query degraded.',
      },
      {
        heading: 'Timings',
        table: {
          columns: [{ title: '' }, { title: 'A', numeric: true }, { title: 'B', numeric: true }],
          rows: (
            [
              ['Total', 'totalMs'],
              ['Query p50', 'queryP50Ms'],
              ['Query p95', 'queryP95Ms'],
            ] as const
          ).map(([name, key]) => [
            { text: name },
            { text: duration(a.timings[key]) },
            { text: duration(b.timings[key]) },
          ]),
        },
      },
    ],
  };
}

function metricRow(metric: MetricComparison): Cell[] {
  const direction = metric.significant ? tone(metric.delta) : {};
  return [
    { text: metric.metric },
    { text: fixed(metric.a) },
    { text: fixed(metric.b) },
    { text: signed(metric.delta), ...direction },
    { text: metric.relativeDelta === null ? 'n/a' : percent(metric.relativeDelta), ...direction },
    { text: pValue(metric.randomization.pValue) },
    { text: pValue(metric.tTest.pValue) },
    { text: metric.significant ? 'yes' : 'no', strong: metric.significant },
  ];
}

function tone(delta: number): { tone?: Tone } {
  if (delta > 0) return { tone: 'up' };
  if (delta < 0) return { tone: 'down' };
  return {};
}

function queries(n: number): string {
  return `${n} ${n === 1 ? 'query' : 'queries'}`;
}

function idList(ids: readonly string[]): string {
  if (ids.length === 0) return '';
  const shown = ids.slice(0, 5).join(', ');
  return ` (${shown}${ids.length > 5 ? ', …' : ''})`;
}

function datasetText(report: EvaluationReport): string {
  const { dataset } = report;
  const split = dataset.split !== undefined ? ` (${dataset.split})` : '';
  return `${dataset.name}${split}, ${dataset.kind}, ${queries(dataset.queries)}`;
}

function runRows(report: EvaluationReport): Array<[string, string]> {
  return [
    ['Report', report.id],
    ['Collection', report.collection],
    ['Dataset', datasetText(report)],
    ...configRows(report.config, report.dataset.kind === 'answers'),
    ['Keel', report.keelVersion],
    ['Created', report.createdAt],
    ['Finished', report.finishedAt],
  ];
}

function configRows(config: EvaluationConfig, answers: boolean): Array<[string, string]> {
  const weights = Object.entries(config.rerankWeights ?? {})
    .map(([name, weight]) => `${name} ${weight}`)
    .join(', ');
  const rows: Array<[string, string]> = [
    ['Mode', config.mode],
    ['Candidates (top k)', String(config.topK)],
    ['Rerank', weights === '' ? config.rerank : `${config.rerank} (${weights})`],
  ];
  if (config.mmrLambda !== undefined) rows.push(['MMR λ', String(config.mmrLambda)]);
  if (answers) {
    rows.push(
      ['Context budget', `${config.budgetTokens} tokens (${config.encoding})`],
      ['Context passages', String(config.contextTopK)],
    );
  }
  rows.push(['Metrics', config.metrics.join(', ')]);
  return rows;
}

/** The values of one metric over the queries that have it. */
function valuesOf(perQuery: readonly PerQueryResult[], metric: MetricName): number[] {
  return perQuery.map((query) => query.metrics[metric]).filter((v) => Number.isFinite(v));
}

function pairs(a: EvaluationReport, b: EvaluationReport, metric: MetricName): ScatterPoint[] {
  const inB = new Map(b.perQuery.map((query) => [query.id, query]));
  const points: ScatterPoint[] = [];
  for (const x of a.perQuery) {
    const y = inB.get(x.id);
    const va = x.metrics[metric];
    const vb = y?.metrics[metric];
    if (va === undefined || vb === undefined || !Number.isFinite(va) || !Number.isFinite(vb)) {
      continue;
    }
    const query = x.query ?? y?.query;
    points.push({ id: x.id, a: va, b: vb, ...(query !== undefined ? { query } : {}) });
  }
  return points;
}

function compareIds(x: string, y: string): number {
  return x < y ? -1 : x > y ? 1 : 0;
}

// ---------------------------------------------------------------------------------------------
// Numbers and text

function fixed(value: number | undefined): string {
  return value === undefined || !Number.isFinite(value) ? 'n/a' : noNegativeZero(value.toFixed(4));
}

function signed(value: number): string {
  const text = fixed(value);
  return value > 0 && text !== '0.0000' ? `+${text}` : text;
}

function percent(value: number): string {
  if (!Number.isFinite(value)) return 'n/a';
  const text = noNegativeZero((value * 100).toFixed(2));
  return `${value > 0 && text !== '0.00' ? '+' : ''}${text}%`;
}

function noNegativeZero(text: string): string {
  return /^-0\.0+$/.test(text) ? text.slice(1) : text;
}

function pValue(p: number): string {
  if (!Number.isFinite(p)) return 'n/a';
  return p < 0.0001 ? '<0.0001' : p.toFixed(4);
}

function duration(ms: number): string {
  if (!Number.isFinite(ms)) return 'n/a';
  return ms < 1000 ? `${ms.toFixed(1)} ms` : `${(ms / 1000).toFixed(2)} s`;
}

/** At most `max` characters (code points, so no surrogate pair is cut), on one line. */
function truncate(text: string, max = QUERY_TEXT_CHARS): string {
  const chars = Array.from(text.replace(/\s+/g, ' ').trim());
  return chars.length <= max ? chars.join('') : `${chars.slice(0, max - 1).join('')}…`;
}

// ---------------------------------------------------------------------------------------------
// Markdown

/**
 * GitHub-flavoured Markdown: the run (or both runs side by side), the metrics table (with Δ,
 * relative Δ, p-values and significance for a comparison), timings and the queries to look at.
 */
export function renderMarkdown(input: ReportInput, options: RenderOptions = {}): string {
  const doc = view(input, options);
  const out: string[] = [`# ${markdownText(doc.title)}`, ''];
  for (const paragraph of doc.intro) out.push(markdownText(paragraph), '');
  for (const section of doc.sections) {
    out.push(`## ${markdownText(section.heading)}`, '');
    for (const note of section.notes ?? []) out.push(markdownText(note), '');
    if (section.table === undefined) continue;
    if (section.table.rows.length === 0) {
      out.push(markdownText(section.empty ?? 'None.'), '');
      continue;
    }
    out.push(...markdownTable(section.table), '');
  }
  return `${out.join('\n').trimEnd()}\n`;
}

function markdownTable(table: Table): string[] {
  const line = (cells: string[]): string => `| ${cells.join(' | ')} |`;
  return [
    line(table.columns.map((column) => markdownText(column.title))),
    line(table.columns.map((column) => (column.numeric === true ? '---:' : '---'))),
    ...table.rows.map((row) =>
      line(
        row.map((cell) => {
          const text = markdownText(cell.text);
          return cell.strong === true && text !== '' ? `**${text}**` : text;
        }),
      ),
    ),
  ];
}

/**
 * User text as literal Markdown on one line: backslash escapes for the characters that would
 * start markup or end a table cell, and for a `<` that could open raw HTML (so `<script>` stays
 * text while `<0.0001` stays readable).
 */
function markdownText(text: string): string {
  return text.replace(/\s+/g, ' ').replace(/[\\`*_[\]|#~]|<(?=[A-Za-z/!?])/g, (ch) => `\\${ch}`);
}

// ---------------------------------------------------------------------------------------------
// HTML

/**
 * One self-contained HTML page: inline CSS and SVG, no script and nothing fetched (a
 * Content-Security-Policy forbids both, should user text ever slip through unescaped). All user
 * text is escaped. Charts of the focus metric: its per-query distribution (both runs side by
 * side for a comparison) and, for a comparison, B against A per query.
 */
export function renderHtml(input: ReportInput, options: RenderOptions = {}): string {
  const doc = view(input, options);
  const body: string[] = [`<h1>${esc(doc.title)}</h1>`];
  for (const paragraph of doc.intro) body.push(`<p class="intro">${esc(paragraph)}</p>`);
  for (const section of doc.sections) {
    body.push('<section>', `<h2>${esc(section.heading)}</h2>`);
    for (const note of section.notes ?? []) body.push(`<p class="note">${esc(note)}</p>`);
    if (section.table !== undefined) {
      body.push(
        section.table.rows.length === 0
          ? `<p class="empty">${esc(section.empty ?? 'None.')}</p>`
          : htmlTable(section.table),
      );
    }
    if (section.charts !== undefined && section.charts.length > 0) {
      body.push('<div class="charts">');
      for (const chart of section.charts) body.push(chartFigure(chart));
      body.push('</div>');
    }
    body.push('</section>');
  }
  return [
    '<!doctype html>',
    '<html lang="en">',
    '<head>',
    '<meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(doc.title)}</title>`,
    `<style>${CSS}</style>`,
    '</head>',
    '<body>',
    '<main>',
    ...body,
    '</main>',
    '</body>',
    '</html>',
    '',
  ].join('\n');
}

const CSS = `
:root { color-scheme: light; }
* { box-sizing: border-box; }
body { margin: 0; background: #fff; color: #1f2328;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 24px 32px 48px; }
h1 { font-size: 24px; margin: 0 0 8px; }
h2 { font-size: 18px; margin: 28px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #d0d7de; }
p { margin: 4px 0 8px; }
p.intro { color: #424a53; }
p.note, p.empty { color: #57606a; font-size: 13px; }
table { border-collapse: collapse; margin: 8px 0 12px; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 12px; border-bottom: 1px solid #e5e7eb; text-align: left; vertical-align: top; }
th { background: #f6f8fa; font-weight: 600; border-bottom: 1px solid #d0d7de; }
th.num, td.num { text-align: right; white-space: nowrap; }
td.up { color: #00704f; }
td.down { color: #b33c00; }
.charts { display: flex; flex-wrap: wrap; gap: 24px; align-items: flex-start; }
figure { margin: 8px 0; }
figcaption { color: #57606a; font-size: 13px; margin-top: 4px; }
svg { max-width: 100%; height: auto; font-family: inherit; }
svg text { font-size: 11px; fill: #424a53; }
svg .title { font-size: 13px; font-weight: 600; fill: #1f2328; }
svg .axis-title { font-size: 12px; fill: #1f2328; }
@media print {
  main { max-width: none; padding: 0; }
  h2 { break-after: avoid; }
  table, figure { break-inside: avoid; }
}
`;

function htmlTable(table: Table): string {
  const head = table.columns
    .map(
      (column) => `<th${column.numeric === true ? ' class="num"' : ''}>${esc(column.title)}</th>`,
    )
    .join('');
  const rows = table.rows.map((row) => {
    const cells = row.map((cell, i) => {
      const classes = [table.columns[i]?.numeric === true ? 'num' : '', cell.tone ?? '']
        .filter((c) => c !== '')
        .join(' ');
      const text = cell.strong === true ? `<strong>${esc(cell.text)}</strong>` : esc(cell.text);
      return `<td${classes === '' ? '' : ` class="${classes}"`}>${text}</td>`;
    });
    return `<tr>${cells.join('')}</tr>`;
  });
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${rows.join('\n')}\n</tbody>\n</table>`;
}

/** Text for HTML, in element content and in quoted attribute values alike. */
function esc(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => HTML_ENTITIES[ch] ?? ch);
}

const HTML_ENTITIES: Readonly<Record<string, string>> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

function chartFigure(chart: Chart): string {
  if (chart.kind === 'histogram') {
    const n = chart.series.map((series) => series.values.length);
    const caption =
      chart.series.length === 1
        ? `Per-query ${chart.metric} of ${queries(n[0] ?? 0)}, in bins of 0.1 (the last bin includes 1).`
        : `Per-query ${chart.metric} of both runs side by side, in bins of 0.1 (the last bin ` +
          `includes 1).`;
    return figure(histogramSvg(chart), HISTOGRAM_WIDTH, caption);
  }
  const caption =
    `${chart.metric} of each paired query: A across, B up; above the diagonal B scored ` +
    `higher. ×n: n queries on the same spot.`;
  return figure(scatterSvg(chart), SCATTER_WIDTH, caption);
}

/** As wide as its chart, so a long caption wraps under it instead of widening the figure. */
function figure(svg: string, width: number, caption: string): string {
  return [
    `<figure style="width: ${width}px; max-width: 100%">`,
    svg,
    `<figcaption>${esc(caption)}</figcaption>`,
    '</figure>',
  ].join('\n');
}

// ---------------------------------------------------------------------------------------------
// SVG charts

const BINS = 10;
const HISTOGRAM_WIDTH = 560;
const SCATTER_SIZE = 400;
const SCATTER_LEFT = 60;
const SCATTER_WIDTH = SCATTER_LEFT + SCATTER_SIZE + 20;
/** Queries on one spot of the scatter plot from which the spot gets a count. */
const MIN_STACK_LABEL = 3;
const SERIES_COLORS = ['#4e79a7', '#f28e2b'] as const;
const OUTCOME_STYLE = {
  improved: { color: '#009e73', label: 'improved' },
  degraded: { color: '#d55e00', label: 'degraded' },
  equal: { color: '#7f7f7f', label: 'equal' },
} as const;
type Outcome = keyof typeof OUTCOME_STYLE;

/** Rounds coordinates to keep the page small. */
function px(value: number): string {
  return String(Math.round(value * 100) / 100);
}

/** Bin i holds [i/10, (i+1)/10); the last also holds 1. Values outside [0, 1] are clamped. */
export function histogramBins(values: readonly number[], bins = BINS): number[] {
  const counts = new Array<number>(bins).fill(0);
  for (const value of values) {
    if (!Number.isFinite(value)) continue;
    counts[Math.min(bins - 1, Math.max(0, Math.floor(value * bins)))] += 1;
  }
  return counts;
}

/** A round axis maximum ≥ `max` and its tick step (1, 2 or 5 × 10^k). */
function niceScale(max: number, ticks = 5): { top: number; step: number } {
  if (max <= 0) return { top: 1, step: 1 };
  const rough = max / ticks;
  const power = 10 ** Math.floor(Math.log10(rough));
  const step = ([1, 2, 5, 10].find((m) => m * power >= rough) ?? 10) * power;
  return { top: Math.ceil(max / step) * step, step: Math.max(1, step) };
}

function histogramSvg(chart: Extract<Chart, { kind: 'histogram' }>): string {
  const width = HISTOGRAM_WIDTH;
  const height = 330;
  const left = 56;
  const right = 16;
  const top = chart.series.length > 1 ? 52 : 36;
  const bottom = 48;
  const plotW = width - left - right;
  const plotH = height - top - bottom;
  const counts = chart.series.map((series) => histogramBins(series.values));
  const { top: yMax, step } = niceScale(Math.max(0, ...counts.flat()));
  const y = (count: number): number => top + plotH - (count / yMax) * plotH;
  const binW = plotW / BINS;
  const gap = 3;
  const barW = (binW - 2 * gap) / chart.series.length;
  const out: string[] = [
    `<svg class="chart histogram" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(`Distribution of ${chart.metric}`)}">`,
    `<text class="title" x="${left}" y="18">${esc(`Distribution of ${chart.metric} per query`)}</text>`,
  ];
  for (let tick = 0; tick <= yMax; tick += step) {
    out.push(
      `<line x1="${left}" x2="${left + plotW}" y1="${px(y(tick))}" y2="${px(y(tick))}" stroke="#e5e7eb"/>`,
      `<text x="${left - 6}" y="${px(y(tick) + 4)}" text-anchor="end">${tick}</text>`,
    );
  }
  chart.series.forEach((series, s) => {
    const color = SERIES_COLORS[s % SERIES_COLORS.length];
    counts[s].forEach((count, bin) => {
      const x = left + bin * binW + gap + s * barW;
      const range = `[${(bin / BINS).toFixed(1)}, ${((bin + 1) / BINS).toFixed(1)}${bin === BINS - 1 ? ']' : ')'}`;
      out.push(
        `<rect class="bar" data-series="${s}" x="${px(x)}" y="${px(y(count))}" width="${px(barW)}" height="${px(top + plotH - y(count))}" fill="${color}">` +
          `<title>${esc(`${series.label}: ${queries(count)} in ${range}`)}</title></rect>`,
      );
      if (count > 0) {
        out.push(
          `<text x="${px(x + barW / 2)}" y="${px(y(count) - 3)}" text-anchor="middle" font-size="${chart.series.length > 1 ? 9 : 11}">${count}</text>`,
        );
      }
    });
  });
  for (let edge = 0; edge <= BINS; edge += 1) {
    const x = left + edge * binW;
    out.push(
      `<line x1="${px(x)}" x2="${px(x)}" y1="${top + plotH}" y2="${top + plotH + 4}" stroke="#57606a"/>`,
      `<text x="${px(x)}" y="${top + plotH + 16}" text-anchor="middle">${(edge / BINS).toFixed(1)}</text>`,
    );
  }
  out.push(
    `<line x1="${left}" x2="${left + plotW}" y1="${top + plotH}" y2="${top + plotH}" stroke="#57606a"/>`,
    `<text class="axis-title" x="${left + plotW / 2}" y="${height - 8}" text-anchor="middle">${esc(chart.metric)}</text>`,
    `<text class="axis-title" transform="translate(14 ${top + plotH / 2}) rotate(-90)" text-anchor="middle">queries</text>`,
  );
  if (chart.series.length > 1) {
    chart.series.forEach((series, s) => {
      const x = left + (s * plotW) / chart.series.length;
      out.push(
        `<rect x="${px(x)}" y="28" width="12" height="12" fill="${SERIES_COLORS[s % SERIES_COLORS.length]}"/>`,
        `<text x="${px(x + 17)}" y="38">${esc(`${truncate(series.label, 36)} (n = ${series.values.length})`)}</text>`,
      );
    });
  }
  out.push('</svg>');
  return out.join('\n');
}

function outcomeOf(point: ScatterPoint): Outcome {
  // Differences within floating-point noise of [0, 1] metrics are no change.
  const delta = point.b - point.a;
  return delta > 1e-9 ? 'improved' : delta < -1e-9 ? 'degraded' : 'equal';
}

function scatterSvg(chart: Extract<Chart, { kind: 'scatter' }>): string {
  const size = SCATTER_SIZE;
  const left = SCATTER_LEFT;
  const top = 56;
  const bottom = 52;
  const width = SCATTER_WIDTH;
  const height = top + size + bottom;
  const max = Math.max(1, ...chart.points.flatMap((point) => [point.a, point.b]));
  const min = Math.min(0, ...chart.points.flatMap((point) => [point.a, point.b]));
  const sx = (v: number): number => left + ((v - min) / (max - min)) * size;
  const sy = (v: number): number => top + size - ((v - min) / (max - min)) * size;
  const out: string[] = [
    `<svg class="chart scatter" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${esc(`${chart.metric}: B against A per query`)}">`,
    `<text class="title" x="${left}" y="18">${esc(`${chart.metric} per query: B against A`)}</text>`,
  ];
  for (let i = 0; i <= 5; i += 1) {
    const v = min + ((max - min) * i) / 5;
    out.push(
      `<line x1="${left}" x2="${left + size}" y1="${px(sy(v))}" y2="${px(sy(v))}" stroke="#eef0f2"/>`,
      `<line x1="${px(sx(v))}" x2="${px(sx(v))}" y1="${top}" y2="${top + size}" stroke="#eef0f2"/>`,
      `<text x="${left - 6}" y="${px(sy(v) + 4)}" text-anchor="end">${v.toFixed(1)}</text>`,
      `<text x="${px(sx(v))}" y="${top + size + 16}" text-anchor="middle">${v.toFixed(1)}</text>`,
    );
  }
  out.push(
    `<rect x="${left}" y="${top}" width="${size}" height="${size}" fill="none" stroke="#57606a"/>`,
    `<line class="diagonal" x1="${px(sx(min))}" y1="${px(sy(min))}" x2="${px(sx(max))}" y2="${px(sy(max))}" stroke="#57606a" stroke-dasharray="5 4"/>`,
    `<text class="axis-title" x="${left + size / 2}" y="${height - 12}" text-anchor="middle">${esc(`A: ${truncate(chart.a, 40)} — ${chart.metric}`)}</text>`,
    `<text class="axis-title" transform="translate(16 ${top + size / 2}) rotate(-90)" text-anchor="middle">${esc(`B: ${truncate(chart.b, 40)} — ${chart.metric}`)}</text>`,
  );
  const groups: Record<Outcome, ScatterPoint[]> = { equal: [], degraded: [], improved: [] };
  for (const point of chart.points) groups[outcomeOf(point)].push(point);
  // Equal points first, so the changed ones are drawn on top of the crowd on the diagonal.
  for (const outcome of ['equal', 'degraded', 'improved'] as const) {
    const { color } = OUTCOME_STYLE[outcome];
    for (const point of groups[outcome]) {
      const label =
        `${point.id}${point.query !== undefined ? `: ${truncate(point.query, 60)}` : ''} — ` +
        `A ${fixed(point.a)}, B ${fixed(point.b)}`;
      out.push(marker(outcome, sx(point.a), sy(point.b), color, `pt ${outcome}`, label));
    }
  }
  // Queries often share a value pair exactly (both 0, both 1): say how many share one spot.
  const stacks = new Map<string, { a: number; b: number; n: number }>();
  for (const point of chart.points) {
    const key = `${point.a},${point.b}`;
    const stack = stacks.get(key) ?? { a: point.a, b: point.b, n: 0 };
    stack.n += 1;
    stacks.set(key, stack);
  }
  for (const stack of stacks.values()) {
    if (stack.n < MIN_STACK_LABEL) continue;
    const x = sx(stack.a);
    const y = sy(stack.b);
    const right = x > left + size / 2;
    out.push(
      `<text class="stack" x="${px(right ? x - 7 : x + 7)}" y="${px(y > top + 12 ? y - 5 : y + 13)}" text-anchor="${right ? 'end' : 'start'}" font-size="10">×${stack.n}</text>`,
    );
  }
  // The key sits between the title and the plot: inside the plot it would hide the corners,
  // where the queries that changed most are.
  const keyStep = 110;
  (['improved', 'degraded', 'equal'] as const).forEach((outcome, i) => {
    const { color, label } = OUTCOME_STYLE[outcome];
    const x = left + i * keyStep;
    out.push(
      marker(outcome, x + 6, 36, color, 'key'),
      `<text x="${x + 16}" y="40">${esc(`${label}: ${groups[outcome].length}`)}</text>`,
    );
  });
  const lineX = left + 3 * keyStep;
  out.push(
    `<line x1="${lineX}" x2="${lineX + 16}" y1="36" y2="36" stroke="#57606a" stroke-dasharray="5 4"/>`,
    `<text x="${lineX + 20}" y="40">B = A</text>`,
    '</svg>',
  );
  return out.join('\n');
}

/**
 * A mark: a triangle up for improved, down for degraded, a circle for equal, so the outcome
 * still reads when printed in black and white. The title is the tooltip of a viewer.
 */
function marker(
  outcome: Outcome,
  x: number,
  y: number,
  color: string,
  className: string,
  title?: string,
): string {
  const attrs = `class="${className}" fill="${color}" fill-opacity="0.6" stroke="${color}" stroke-width="0.8"`;
  const tooltip = title === undefined ? '' : `<title>${esc(title)}</title>`;
  if (outcome === 'equal') {
    return `<circle ${attrs} cx="${px(x)}" cy="${px(y)}" r="3.5">${tooltip}</circle>`;
  }
  const r = 4.5;
  const tip = outcome === 'improved' ? -r : r;
  const d = `M${px(x)} ${px(y + tip)}L${px(x + r)} ${px(y - tip * 0.7)}L${px(x - r)} ${px(y - tip * 0.7)}Z`;
  return `<path ${attrs} d="${d}">${tooltip}</path>`;
}
