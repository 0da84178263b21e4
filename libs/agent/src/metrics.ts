import type { Registry } from 'prom-client';
import { sharedCounter, sharedHistogram } from '@keel/platform/metrics';

/** Tool-call metrics on an injected registry (the process's one, STYLE.md #8). */
export interface ToolMetrics {
  observe(tool: string, outcome: string, seconds: number): void;
}

/**
 * `keel_tool_calls_total{tool,outcome}` and `keel_tool_call_duration_seconds{tool,outcome}`;
 * `outcome` is `ok` or the error code. A registry that already has them (a second dispatcher in
 * the same process) shares them instead of failing on the duplicate name.
 */
export function toolMetrics(registry: Registry): ToolMetrics {
  const calls = sharedCounter<'tool' | 'outcome'>(registry, {
    name: 'keel_tool_calls_total',
    help: 'Tool calls by tool and outcome (ok or the error code).',
    labelNames: ['tool', 'outcome'],
  });
  const duration = sharedHistogram<'tool' | 'outcome'>(registry, {
    name: 'keel_tool_call_duration_seconds',
    help: 'Tool call latency, retries and queueing included.',
    labelNames: ['tool', 'outcome'],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  });
  return {
    observe(tool, outcome, seconds) {
      calls.inc({ tool, outcome });
      duration.observe({ tool, outcome }, seconds);
    },
  };
}
