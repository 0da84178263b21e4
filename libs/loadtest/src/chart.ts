import type { LoadTestResult } from './result.js';

/** The series of the chart, in the result's latency summary fields. */
export const CHART_SERIES = [
  { name: 'p50', field: 'p50', color: '#1f77b4' },
  { name: 'p99', field: 'p99', color: '#ff7f0e' },
  { name: 'p99.9', field: 'p999', color: '#d62728' },
] as const;

const W = 760;
const H = 440;
const M = { left: 70, right: 150, top: 48, bottom: 56 };

function escapeXml(s: string): string {
  return s.replace(/[<>&"']/gu, (c) => `&#${c.charCodeAt(0)};`);
}

const fmt = (n: number) => String(Math.round(n * 1000) / 1000);

/** 1-2-5 ticks covering [lo, hi] on a log axis. */
function logTicks(lo: number, hi: number): number[] {
  const ticks: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const t = m * 10 ** e;
      if (t >= lo * 0.999 && t <= hi * 1.001) ticks.push(Number(t.toPrecision(3)));
    }
  }
  return ticks;
}

function linearTicks(hi: number, count = 6): number[] {
  const raw = hi / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? raw;
  const ticks: number[] = [];
  for (let t = 0; t <= hi + step / 1000; t += step) ticks.push(Number(t.toPrecision(6)));
  return ticks;
}

/**
 * Latency percentiles (p50, p99, p99.9; log scale) against offered load, one point per step
 * with successful responses; the SLO as a dashed line, the highest rate that held as a vertical
 * one, and steps that broke drawn hollow. Hand-written SVG: no dependency, no script, no fonts
 * beyond the generic family.
 */
export function renderChart(result: LoadTestResult): string {
  const steps = result.steps
    .filter((s) => s.latencyMs.count > 0)
    .sort((a, b) => a.offeredRps - b.offeredRps || a.index - b.index);
  const values = steps.flatMap((s) => CHART_SERIES.map((c) => s.latencyMs[c.field]));
  const slo = result.capacity.sloP99Ms;
  if (slo !== null) values.push(slo);
  const positive = values.filter((v) => v > 0);
  const yLo = 10 ** Math.floor(Math.log10(Math.max(0.01, Math.min(...positive, 1))));
  const yHi = 10 ** Math.ceil(Math.log10(Math.max(...positive, yLo * 10)));
  const xHi =
    Math.max(1, ...result.steps.map((s) => Math.max(s.plan.fromRps, s.plan.toRps))) * 1.05;
  const xTicks = linearTicks(xHi);
  const xMax = Math.max(xHi, xTicks[xTicks.length - 1]);
  const pw = W - M.left - M.right;
  const ph = H - M.top - M.bottom;
  const x = (v: number) => M.left + (v / xMax) * pw;
  const y = (v: number) =>
    M.top + ph - ((Math.log10(Math.max(v, yLo)) - Math.log10(yLo)) / Math.log10(yHi / yLo)) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<title>${escapeXml(`Keel load test ${result.id}: latency against offered load`)}</title>`,
    `<rect width="${W}" height="${H}" fill="#ffffff"/>`,
    `<text x="${M.left}" y="24" font-size="15" font-weight="bold">${escapeXml(`Latency against offered load — ${result.target.collection}, ${result.target.mode}`)}</text>`,
    `<g class="axes" stroke="#999999" stroke-width="1">`,
    `<line x1="${M.left}" y1="${M.top + ph}" x2="${M.left + pw}" y2="${M.top + ph}"/>`,
    `<line x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + ph}"/>`,
    `</g>`,
    `<g class="grid" stroke="#eeeeee" stroke-width="1">`,
  ];
  const yTicks = logTicks(yLo, yHi);
  for (const t of yTicks)
    out.push(`<line x1="${M.left}" y1="${fmt(y(t))}" x2="${M.left + pw}" y2="${fmt(y(t))}"/>`);
  out.push('</g>', '<g class="ticks" fill="#333333">');
  for (const t of yTicks) {
    out.push(`<text x="${M.left - 6}" y="${fmt(y(t) + 4)}" text-anchor="end">${fmt(t)}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<text x="${fmt(x(t))}" y="${M.top + ph + 18}" text-anchor="middle">${fmt(t)}</text>`);
  }
  out.push(
    '</g>',
    `<text x="${M.left + pw / 2}" y="${H - 14}" text-anchor="middle">offered load (requests/s)</text>`,
    `<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">latency from scheduled send (ms, log scale)</text>`,
  );
  if (slo !== null) {
    out.push(
      `<g class="slo"><line x1="${M.left}" y1="${fmt(y(slo))}" x2="${M.left + pw}" y2="${fmt(y(slo))}" stroke="#555555" stroke-dasharray="6 4"/>`,
      `<text x="${M.left + pw - 4}" y="${fmt(y(slo) - 5)}" text-anchor="end" fill="#555555">SLO p99 ${fmt(slo)} ms</text></g>`,
    );
  }
  const held = result.capacity.highestRateHeld;
  if (held !== null) {
    out.push(
      `<g class="capacity"><line x1="${fmt(x(held))}" y1="${M.top}" x2="${fmt(x(held))}" y2="${M.top + ph}" stroke="#2ca02c" stroke-dasharray="2 3"/>`,
      `<text x="${fmt(x(held) + 4)}" y="${M.top + 12}" fill="#2ca02c">held ${fmt(held)} rps</text></g>`,
    );
  }
  for (const c of CHART_SERIES) {
    const points = steps.map((s) => ({ s, px: x(s.offeredRps), py: y(s.latencyMs[c.field]) }));
    out.push(`<g class="series" data-series="${c.name}" stroke="${c.color}" fill="${c.color}">`);
    if (points.length > 1) {
      out.push(
        `<polyline fill="none" stroke-width="2" points="${points.map((p) => `${fmt(p.px)},${fmt(p.py)}`).join(' ')}"/>`,
      );
    }
    for (const p of points) {
      const hollow = p.s.verdict.status !== 'held';
      out.push(
        `<circle cx="${fmt(p.px)}" cy="${fmt(p.py)}" r="4"${hollow ? ' fill="#ffffff" stroke-width="2"' : ''}><title>${escapeXml(`step ${p.s.index + 1} (${p.s.label}): ${c.name} ${p.s.latencyMs[c.field]} ms, ${p.s.verdict.status}`)}</title></circle>`,
      );
    }
    out.push('</g>');
  }
  const lx = M.left + pw + 20;
  out.push('<g class="legend">');
  CHART_SERIES.forEach((c, i) => {
    const ly = M.top + 10 + i * 20;
    out.push(
      `<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${c.color}" stroke-width="2"/>`,
      `<text x="${lx + 28}" y="${ly + 4}">${c.name}</text>`,
    );
  });
  out.push(
    `<circle cx="${lx + 11}" cy="${M.top + 80}" r="4" fill="#ffffff" stroke="#333333" stroke-width="2"/>`,
    `<text x="${lx + 28}" y="${M.top + 84}">step did not hold</text>`,
    '</g>',
  );
  if (steps.length === 0) {
    out.push(
      `<text x="${M.left + pw / 2}" y="${M.top + ph / 2}" text-anchor="middle" fill="#999999">no successful responses</text>`,
    );
  }
  out.push('</svg>', '');
  return out.join('\n');
}
