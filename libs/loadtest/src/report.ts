import type { StepResult } from './engine.js';
import type { LoadTestResult } from './result.js';
import type { RuntimeSizing } from './snapshot.js';

type Align = 'l' | 'r';

/** A Markdown table with padded columns (as Prettier would write it). */
export function markdownTable(headers: string[], rows: string[][], align: Align[] = []): string {
  const esc = (s: string) => s.replace(/\|/gu, '\\|');
  const cells = [headers, ...rows].map((r) => r.map(esc));
  const widths = headers.map((_, i) => Math.max(3, ...cells.map((r) => (r[i] ?? '').length)));
  const pad = (s: string, i: number) =>
    align[i] === 'r' ? s.padStart(widths[i]) : s.padEnd(widths[i]);
  const line = (r: string[]) => `| ${r.map((c, i) => pad(c ?? '', i)).join(' | ')} |`;
  const rule = `| ${widths.map((w, i) => (align[i] === 'r' ? `${'-'.repeat(w - 1)}:` : '-'.repeat(w))).join(' | ')} |`;
  return [line(cells[0]), rule, ...cells.slice(1).map(line)].join('\n');
}

/** A plain-text table for the terminal. */
export function textTable(headers: string[], rows: string[][], align: Align[] = []): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const pad = (s: string, i: number) =>
    align[i] === 'r' ? s.padStart(widths[i]) : s.padEnd(widths[i]);
  const line = (r: string[]) =>
    r
      .map((c, i) => pad(c ?? '', i))
      .join('  ')
      .trimEnd();
  return [line(headers), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const num = (n: number | null | undefined, digits = 1): string =>
  n === null || n === undefined ? '—' : String(Math.round(n * 10 ** digits) / 10 ** digits);

const mib = (bytes: number | null) => (bytes === null ? '—' : `${num(bytes / 2 ** 20, 0)} MiB`);

function counts(map: Record<string, number>): string {
  const entries = Object.entries(map).sort(([, a], [, b]) => b - a);
  return entries.length === 0 ? 'none' : entries.map(([k, v]) => `${k}: ${v}`).join(', ');
}

export function verdictText(step: StepResult): string {
  const v = step.verdict;
  return v.status === 'held' ? 'held' : `${v.status}: ${v.reasons.join('; ')}`;
}

export function describeRuntime(r: RuntimeSizing | null): string {
  if (!r) return 'unknown (no keel_runtime_* metrics)';
  const cpu =
    r.cpuQuotaCores !== null && r.cpuQuotaCores > 0
      ? `CPU quota ${r.cpuQuotaCores} cores`
      : `no CPU quota (${r.hostCores ?? '?'} host cores)`;
  const mem =
    r.memoryLimitBytes !== null && r.memoryLimitBytes > 0
      ? `memory limit ${mib(r.memoryLimitBytes)}`
      : 'no memory limit';
  return `${cpu}, ${mem}, ${r.poolThreads ?? '?'} pool threads, UV_THREADPOOL_SIZE ${r.uvThreadpoolSize ?? '?'}, heap limit ${mib(r.heapSizeLimitBytes)}`;
}

function mixText(result: LoadTestResult): string {
  return Object.entries(result.options.mix)
    .map(([e, share]) => `${e} ${num((share ?? 0) * 100, 1)}%`)
    .join(', ');
}

function capacityText(result: LoadTestResult): string {
  const c = result.capacity;
  const criteria = `p99 SLO ${c.sloP99Ms === null ? 'none' : `${c.sloP99Ms} ms`}, error budget ${num(c.errorBudget * 100, 2)}% (errors, and late or dropped requests)`;
  if (c.highestRateHeld === null) return `No step held (${criteria}).`;
  const bound = c.lowerBound ? ' — no step broke, so the capacity is at least this' : '';
  return `Highest rate that held: **${c.highestRateHeld} requests/s** (step ${c.heldStep! + 1}; ${criteria})${bound}.`;
}

function jobsText(step: StepResult): string {
  const s = step.server;
  if (!s) return '—';
  const parts = Object.entries(s.jobsPerRequest).map(([queue, per]) => {
    const where = s.remoteJobs[queue] ? 'workers' : 'pool';
    const mean = s.remoteJobs[queue]?.meanMs ?? s.jobs[queue]?.meanMs;
    return `${queue} ${per} (${where}, mean ${num(mean, 2)} ms)`;
  });
  return parts.length === 0 ? 'none' : parts.join(', ');
}

function stepSection(step: StepResult, lateMs: number): string {
  const l = step.latencyMs;
  const s = step.server;
  const rows: string[][] = [
    [
      'requests',
      `${step.counts.scheduled} scheduled, ${step.counts.sent} sent, ${step.counts.ok} ok, ${step.counts.errors} errors`,
    ],
    [
      'late / dropped',
      `${step.counts.late} sent more than ${lateMs} ms late, ${step.counts.dropped} dropped at the in-flight cap`,
    ],
    [
      'rates',
      `offered ${step.offeredRps}, sent ${step.rates.sendRps}, ok ${step.rates.throughputRps} requests/s`,
    ],
    [
      'latency (from scheduled send)',
      `p50 ${l.p50}, p90 ${l.p90}, p99 ${l.p99}, p99.9 ${l.p999}, max ${l.max} ms`,
    ],
    [
      'service time (from actual send)',
      `p50 ${step.serviceTimeMs.p50}, p99 ${step.serviceTimeMs.p99}, max ${step.serviceTimeMs.max} ms`,
    ],
    ['send lag', `p99 ${step.sendLagMs.p99}, max ${step.sendLagMs.max} ms`],
    ...Object.entries(step.byEndpoint).map(([e, r]) => [
      e,
      `${r.sent} sent, ${r.ok} ok, ${r.errors} errors; p50 ${r.latencyMs.p50}, p99 ${r.latencyMs.p99} ms`,
    ]),
    ['errors by status', counts(step.errors.byStatus)],
    ['errors by code', counts(step.errors.byCode)],
  ];
  if (s) {
    rows.push(
      [
        'server CPU',
        `${num(s.cpuSeconds, 3)} s over ${num(s.windowSeconds, 2)} s (${num(s.cpuCores, 3)} cores); ${num(s.cpuSecondsPerRequest === null ? null : s.cpuSecondsPerRequest * 1000, 3)} ms per request (${s.responses} responses)`,
      ],
      ['server RSS', mib(s.rssBytes)],
      ['event-loop delay p99', `${num(s.eventLoopDelayP99Ms, 3)} ms`],
      [
        'queue depth',
        `${num(s.queueDepth, 0)} (${s.queueDepthSource ?? 'no metric'}, at the step's end)`,
      ],
      ['jobs per request', jobsText(step)],
    );
  } else {
    rows.push(['server', `no /metrics (${step.serverError ?? 'not read'})`]);
  }
  for (const w of step.workers) {
    rows.push([
      `worker ${w.url}`,
      w.error
        ? `no /metrics (${w.error})`
        : `${num(w.cpuCores, 3)} cores; ${Object.entries(w.jobs)
            .map(([q, j]) => `${q} ${j.count} jobs, mean ${num(j.meanMs, 2)} ms`)
            .join(', ')}`,
    ]);
  }
  rows.push(['verdict', verdictText(step)]);
  return [
    `### Step ${step.index + 1} — ${step.label}`,
    '',
    markdownTable(['measure', 'value'], rows),
  ].join('\n');
}

export function renderMarkdown(result: LoadTestResult, chartFile = 'latency.svg'): string {
  const o = result.options;
  const summary = markdownTable(
    [
      '#',
      'load',
      'offered',
      'sent/s',
      'ok/s',
      'p50 ms',
      'p90 ms',
      'p99 ms',
      'p99.9 ms',
      'errors',
      'late',
      'dropped',
      'CPU ms/req',
      'loop p99 ms',
      'queue',
      'verdict',
    ],
    result.steps.map((s) => [
      String(s.index + 1),
      s.label,
      String(s.offeredRps),
      String(s.rates.sendRps),
      String(s.rates.throughputRps),
      String(s.latencyMs.p50),
      String(s.latencyMs.p90),
      String(s.latencyMs.p99),
      String(s.latencyMs.p999),
      String(s.counts.errors),
      String(s.counts.late),
      String(s.counts.dropped),
      num(
        s.server?.cpuSecondsPerRequest === null || !s.server
          ? null
          : s.server.cpuSecondsPerRequest * 1000,
        3,
      ),
      num(s.server?.eventLoopDelayP99Ms, 3),
      num(s.server?.queueDepth, 0),
      s.verdict.status,
    ]),
    ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
  const workers = result.setup.workers.map(
    (w) =>
      `- worker ${w.url}: ${w.error ? `not read (${w.error})` : `concurrency ${counts(w.concurrency)}; ${describeRuntime(w.runtime)}`}`,
  );
  return [
    `# Keel load test ${result.id}`,
    '',
    `Target ${result.target.url}, collection \`${result.target.collection}\`, ${result.target.mode} mode; ${result.startedAt} to ${result.finishedAt}. Open loop: ${o.arrivals} arrivals (seed ${o.seed}); mix ${mixText(result)}; ${o.queries.count} queries from ${o.queries.source} (${o.queries.split}); timeout ${o.timeoutMs} ms, in-flight cap ${o.maxInFlight}, late past ${o.lateMs} ms; bounds ${o.maxRequests} requests, ${o.maxSeconds} s; stopped: ${result.stopped}.`,
    '',
    `Measured on: ${describeRuntime(result.setup.runtime)}. Generator: Node ${result.setup.generator.node}, ${result.setup.generator.hostCores} cores.`,
    ...(workers.length > 0 ? ['', ...workers] : []),
    '',
    '## Result',
    '',
    capacityText(result),
    '',
    'Latency is measured from each request’s scheduled send time, so time spent waiting on a server that is behind counts; successful responses only (errors are counted apart).',
    '',
    summary,
    '',
    `![latency percentiles against offered load](${chartFile})`,
    '',
    '## Steps',
    '',
    result.steps.map((s) => stepSection(s, o.lateMs)).join('\n\n'),
    '',
  ].join('\n');
}

/** The table printed to stdout. */
export function renderSummary(result: LoadTestResult): string {
  const table = textTable(
    [
      '#',
      'load',
      'sent',
      'ok',
      'err',
      'late',
      'drop',
      'p50',
      'p90',
      'p99',
      'p99.9 ms',
      'ok/s',
      'cpu ms/req',
      'loop p99',
      'queue',
      'verdict',
    ],
    result.steps.map((s) => [
      String(s.index + 1),
      s.label,
      String(s.counts.sent),
      String(s.counts.ok),
      String(s.counts.errors),
      String(s.counts.late),
      String(s.counts.dropped),
      String(s.latencyMs.p50),
      String(s.latencyMs.p90),
      String(s.latencyMs.p99),
      String(s.latencyMs.p999),
      String(s.rates.throughputRps),
      num(
        !s.server || s.server.cpuSecondsPerRequest === null
          ? null
          : s.server.cpuSecondsPerRequest * 1000,
        3,
      ),
      num(s.server?.eventLoopDelayP99Ms, 2),
      num(s.server?.queueDepth, 0),
      verdictText(s),
    ]),
    ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  );
  return [
    `${result.target.url} · ${result.target.collection} · ${result.target.mode} · ${describeRuntime(result.setup.runtime)}`,
    '',
    table,
    '',
    capacityText(result).replace(/\*\*/gu, ''),
  ].join('\n');
}
