import { Injectable } from '@nestjs/common';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

/** Sampling interval of the event-loop delay monitors (prom-client's default and Keel's). */
const LOOP_RESOLUTION_MS = 10;

/**
 * One Prometheus registry per process. Metrics carry labels (route, queue, …) rather than names
 * with labels baked in (STYLE.md #8); libs register their own metrics on it.
 */
@Injectable()
export class MetricsService {
  readonly httpDuration: Histogram<'method' | 'route' | 'status_code'>;

  /** The registry may come from before Nest started (the job pool registers on it early). */
  constructor(readonly registry: Registry = new Registry()) {
    // Default metrics include CPU seconds, RSS, heap, GC and event-loop delay percentiles
    // (nodejs_eventloop_lag_p99_seconds), sampled at 10 ms resolution.
    collectDefaultMetrics({
      register: this.registry,
      eventLoopMonitoringPrecision: LOOP_RESOLUTION_MS,
    });
    registerLoopDelay(this.registry);
    this.httpDuration = new Histogram({
      name: 'keel_http_request_duration_seconds',
      help: 'HTTP request latency from first byte in to last byte out.',
      labelNames: ['method', 'route', 'status_code'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [this.registry],
    });
  }

  async render(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}

/**
 * The event-loop delay itself: how late the loop ran a timer, since the previous scrape. Node's
 * monitor records the whole interval between two samples, so prom-client's
 * `nodejs_eventloop_lag_*` read at least the 10 ms sampling interval even on an idle process
 * (seen: p50 10.18 ms idle); this subtracts it.
 */
function registerLoopDelay(registry: Registry): void {
  const monitor = monitorEventLoopDelay({ resolution: LOOP_RESOLUTION_MS });
  monitor.enable();
  const interval = LOOP_RESOLUTION_MS * 1e6;
  const seconds = (ns: number) => Math.max(0, ns - interval) / 1e9;
  new Gauge({
    name: 'keel_event_loop_delay_seconds',
    help: 'Event-loop delay beyond the sampling interval since the last scrape, by quantile (1 = max).',
    labelNames: ['quantile'],
    registers: [registry],
    collect() {
      if (monitor.count > 0) {
        for (const q of [0.5, 0.9, 0.99]) {
          this.set({ quantile: String(q) }, seconds(monitor.percentile(q * 100)));
        }
        this.set({ quantile: '1' }, seconds(monitor.max));
      }
      monitor.reset();
    },
  });
}
