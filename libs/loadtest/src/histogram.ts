import { build, encodeIntoCompressedBase64, type Histogram } from 'hdr-histogram-js';

/** Latency percentiles in milliseconds (values recorded at microsecond resolution). */
export interface LatencySummary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

const US_PER_MS = 1000;
const round = (ms: number) => Math.round(ms * 1000) / 1000;

/**
 * An HDR histogram of durations: 3 significant digits (each percentile within 0.1% of the
 * recorded value) from 1 µs up, resizing as needed, so a 30 s timeout costs no more than 1 ms.
 */
export class LatencyHistogram {
  private readonly h: Histogram = build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60 * 60 * 1e6,
    numberOfSignificantValueDigits: 3,
    autoResize: true,
  });

  record(ms: number): void {
    this.h.recordValue(Math.max(1, Math.round(ms * US_PER_MS)));
  }

  add(other: LatencyHistogram): void {
    this.h.add(other.h);
  }

  get count(): number {
    return this.h.totalCount;
  }

  /** The value at `percentile` (0–100) in ms: HdrHistogram's, the highest equivalent value. */
  percentile(percentile: number): number {
    if (this.count === 0) return 0;
    // The highest equivalent value of the bucket can exceed the largest value recorded.
    return round(Math.min(this.h.getValueAtPercentile(percentile), this.h.maxValue) / US_PER_MS);
  }

  summary(): LatencySummary {
    if (this.count === 0)
      return { count: 0, min: 0, mean: 0, p50: 0, p90: 0, p99: 0, p999: 0, max: 0 };
    return {
      count: this.count,
      min: round(this.h.minNonZeroValue / US_PER_MS),
      mean: round(this.h.mean / US_PER_MS),
      p50: this.percentile(50),
      p90: this.percentile(90),
      p99: this.percentile(99),
      p999: this.percentile(99.9),
      max: round(this.h.maxValue / US_PER_MS),
    };
  }

  /** HdrHistogram's compressed V2 encoding (base64), which its tools and plotters read. */
  encode(): string {
    return encodeIntoCompressedBase64(this.h);
  }
}
