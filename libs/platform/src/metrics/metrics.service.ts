import { Injectable } from '@nestjs/common';
import { collectDefaultMetrics, Histogram, Registry } from 'prom-client';

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
    collectDefaultMetrics({ register: this.registry, eventLoopMonitoringPrecision: 10 });
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
