/** One sample of the Prometheus text exposition format. */
export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*/u;

function parseValue(text: string): number {
  switch (text) {
    case '+Inf':
      return Infinity;
    case '-Inf':
      return -Infinity;
    case 'NaN':
      return NaN;
    default:
      return Number(text);
  }
}

/**
 * Parses the text exposition format (version 0.0.4, what prom-client serves): comments and
 * blank lines are skipped, label values are unescaped (`\\`, `\"`, `\n`), a timestamp after the
 * value is ignored. A line that does not parse is skipped rather than failing the whole scrape.
 */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const name = NAME.exec(line)?.[0];
    if (!name) continue;
    let i = name.length;
    const labels: Record<string, string> = {};
    if (line[i] === '{') {
      i += 1;
      let ok = false;
      while (i < line.length) {
        while (line[i] === ' ' || line[i] === ',') i += 1;
        if (line[i] === '}') {
          i += 1;
          ok = true;
          break;
        }
        const key = NAME.exec(line.slice(i))?.[0];
        if (!key || line[i + key.length] !== '=' || line[i + key.length + 1] !== '"') break;
        i += key.length + 2;
        let value = '';
        while (i < line.length && line[i] !== '"') {
          if (line[i] === '\\' && i + 1 < line.length) {
            const next = line[i + 1];
            value += next === 'n' ? '\n' : next;
            i += 2;
          } else {
            value += line[i];
            i += 1;
          }
        }
        if (line[i] !== '"') break;
        i += 1;
        labels[key] = value;
      }
      if (!ok) continue;
    }
    const rest = line.slice(i).trim().split(/\s+/u);
    if (rest[0] === undefined || rest[0] === '') continue;
    const value = parseValue(rest[0]);
    if (Number.isNaN(value) && rest[0] !== 'NaN') continue;
    samples.push({ name, labels, value });
  }
  return samples;
}

/** Samples indexed by name, with the lookups the load test needs. */
export class Metrics {
  private readonly byName = new Map<string, Sample[]>();

  constructor(samples: readonly Sample[]) {
    for (const s of samples) {
      const list = this.byName.get(s.name);
      if (list) list.push(s);
      else this.byName.set(s.name, [s]);
    }
  }

  static parse(text: string): Metrics {
    return new Metrics(parsePrometheus(text));
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Samples of `name` whose labels include `labels`. */
  select(name: string, labels: Record<string, string> = {}): Sample[] {
    const want = Object.entries(labels);
    return (this.byName.get(name) ?? []).filter((s) => want.every(([k, v]) => s.labels[k] === v));
  }

  /** The value of the one matching sample (the first, if several), or undefined. */
  value(name: string, labels: Record<string, string> = {}): number | undefined {
    return this.select(name, labels)[0]?.value;
  }

  /** The sum over matching samples, or undefined when there are none. */
  sum(name: string, labels: Record<string, string> = {}): number | undefined {
    const list = this.select(name, labels);
    return list.length === 0 ? undefined : list.reduce((a, s) => a + s.value, 0);
  }

  /** Sums of `name` grouped by the value of `label`. */
  sumBy(name: string, label: string, labels: Record<string, string> = {}): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of this.select(name, labels)) {
      const key = s.labels[label];
      if (key === undefined) continue;
      out[key] = (out[key] ?? 0) + s.value;
    }
    return out;
  }
}
