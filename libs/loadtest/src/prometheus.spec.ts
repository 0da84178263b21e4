import { describe, expect, it } from 'vitest';
import { Metrics, parsePrometheus } from './prometheus.js';
import { snapshot, stepServer, stepWorker } from './snapshot.js';

const EMBEDDED = `# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.5
process_resident_memory_bytes 232681472
nodejs_eventloop_lag_p99_seconds 0.0102
keel_event_loop_delay_seconds{quantile="0.5"} 0.000158
keel_event_loop_delay_seconds{quantile="0.99"} 0.0014
keel_event_loop_delay_seconds{quantile="1"} 0.0127
keel_job_pool_queue_depth 3
keel_job_duration_seconds_bucket{le="0.01",queue="rerank",name="rerank",outcome="ok"} 90
keel_job_duration_seconds_sum{queue="search",name="bm25",outcome="ok"} 0.4
keel_job_duration_seconds_count{queue="search",name="bm25",outcome="ok"} 200
keel_job_duration_seconds_sum{queue="rerank",name="rerank",outcome="ok"} 0.5
keel_job_duration_seconds_count{queue="rerank",name="rerank",outcome="ok"} 95
keel_job_duration_seconds_sum{queue="rerank",name="rerank",outcome="error"} 0.1
keel_job_duration_seconds_count{queue="rerank",name="rerank",outcome="error"} 5
keel_runtime_cpu_quota_cores 1.5
keel_runtime_memory_limit_bytes 1073741824
keel_runtime_host_cores 2
keel_runtime_effective_cpus 1
keel_runtime_pool_threads 1
keel_runtime_uv_threadpool_size 4
keel_runtime_heap_size_limit_bytes 912680550
keel_runtime_info{cgroup_version="2",cpu_source="cpu.max",memory_source="memory.max"} 1
`;

describe('parsePrometheus', () => {
  it('reads names, labels (escaped), special values and skips what does not parse', () => {
    const samples = parsePrometheus(
      [
        '# HELP x y',
        'plain 1',
        'with_ts{a="1"} 2.5 1700000000000',
        'escaped{path="C:\\\\dir",msg="say \\"hi\\"\\n",b="x,y"} 3',
        'inf{le="+Inf"} +Inf',
        'neg -Inf',
        'nan NaN',
        'trailing_comma{a="1",} 4',
        'broken{a="1" 5',
        'novalue',
        '',
      ].join('\n'),
    );
    expect(samples).toEqual([
      { name: 'plain', labels: {}, value: 1 },
      { name: 'with_ts', labels: { a: '1' }, value: 2.5 },
      { name: 'escaped', labels: { path: 'C:\\dir', msg: 'say "hi"\n', b: 'x,y' }, value: 3 },
      { name: 'inf', labels: { le: '+Inf' }, value: Infinity },
      { name: 'neg', labels: {}, value: -Infinity },
      { name: 'nan', labels: {}, value: NaN },
      { name: 'trailing_comma', labels: { a: '1' }, value: 4 },
    ]);
  });

  it('selects, sums and groups by label', () => {
    const m = Metrics.parse(EMBEDDED);
    expect(m.value('keel_event_loop_delay_seconds', { quantile: '0.99' })).toBe(0.0014);
    expect(m.sum('keel_job_duration_seconds_count', { queue: 'rerank' })).toBe(100);
    expect(m.sumBy('keel_job_duration_seconds_count', 'queue')).toEqual({
      search: 200,
      rerank: 100,
    });
    expect(m.value('absent')).toBeUndefined();
  });
});

describe('snapshots and step deltas', () => {
  it('takes Keel’s own event-loop gauge, not prom-client’s lag, and the runtime sizing', () => {
    const s = snapshot(EMBEDDED, 1000);
    expect(s.eventLoopDelayP99Seconds).toBe(0.0014);
    expect(s.cpuSeconds).toBe(12.5);
    expect(s.poolQueueDepth).toBe(3);
    expect(s.queueWaiting).toBeNull();
    expect(s.jobs.rerank).toEqual({ count: 100, sumSeconds: 0.6 });
    expect(s.runtime).toEqual({
      cpuQuotaCores: 1.5,
      memoryLimitBytes: 1073741824,
      hostCores: 2,
      effectiveCpus: 1,
      poolThreads: 1,
      uvThreadpoolSize: 4,
      heapSizeLimitBytes: 912680550,
      cgroupVersion: '2',
      cpuSource: 'cpu.max',
      memorySource: 'memory.max',
    });
  });

  it('embedded step: CPU per request, jobs per request and mean job time from the deltas', () => {
    const before = snapshot(EMBEDDED, 0);
    const after = snapshot(
      EMBEDDED.replace('process_cpu_seconds_total 12.5', 'process_cpu_seconds_total 14.5')
        .replace('keel_job_pool_queue_depth 3', 'keel_job_pool_queue_depth 7')
        .replace(
          'keel_job_duration_seconds_count{queue="search",name="bm25",outcome="ok"} 200',
          'keel_job_duration_seconds_count{queue="search",name="bm25",outcome="ok"} 600',
        )
        .replace(
          'keel_job_duration_seconds_sum{queue="search",name="bm25",outcome="ok"} 0.4',
          'keel_job_duration_seconds_sum{queue="search",name="bm25",outcome="ok"} 1.2',
        ),
      4000,
    );
    const s = stepServer(before, after, 400);
    expect(s.windowSeconds).toBe(4);
    expect(s.cpuSeconds).toBe(2);
    expect(s.cpuCores).toBe(0.5);
    expect(s.cpuSecondsPerRequest).toBe(0.005); // 2 s / 400 responses
    expect(s.jobs).toEqual({ search: { count: 400, meanMs: 2 } }); // 0.8 s / 400
    expect(s.jobsPerRequest).toEqual({ search: 1 });
    expect(s.queueDepth).toBe(7);
    expect(s.queueDepthSource).toBe('keel_job_pool_queue_depth');
    expect(s.eventLoopDelayP99Ms).toBe(1.4);
  });

  it('distributed step: queue depth is the waiting jobs summed over queues, jobs are remote', () => {
    const api = (rerank: number, sum: number, waitRerank: number) =>
      [
        'process_cpu_seconds_total 1',
        'keel_job_pool_queue_depth 0',
        `keel_queue_jobs{queue="rerank",state="wait"} ${waitRerank}`,
        'keel_queue_jobs{queue="rerank",state="active"} 2',
        'keel_queue_jobs{queue="pack",state="wait"} 1',
        `keel_remote_job_duration_seconds_count{queue="rerank",name="rerank",outcome="ok"} ${rerank}`,
        `keel_remote_job_duration_seconds_sum{queue="rerank",name="rerank",outcome="ok"} ${sum}`,
      ].join('\n');
    const s = stepServer(snapshot(api(10, 0.1, 0), 0), snapshot(api(40, 0.4, 4), 2000), 100);
    expect(s.queueDepth).toBe(5);
    expect(s.queueDepthSource).toBe('keel_queue_jobs{state="wait"}');
    expect(s.queueWaiting).toEqual({ rerank: 4, pack: 1 });
    expect(s.remoteJobs).toEqual({ rerank: { count: 30, meanMs: 10 } });
    expect(s.jobsPerRequest).toEqual({ rerank: 0.3 });
  });

  it('worker step: its own job durations and concurrency', () => {
    const w = (n: number) =>
      [
        'process_cpu_seconds_total 3',
        'keel_worker_concurrency{queue="rerank"} 2',
        'keel_worker_concurrency{queue="pack"} 2',
        `keel_job_duration_seconds_count{queue="rerank",name="rerank",outcome="ok"} ${n}`,
        `keel_job_duration_seconds_sum{queue="rerank",name="rerank",outcome="ok"} ${n * 0.008}`,
      ].join('\n');
    const s = stepWorker('http://w/metrics', snapshot(w(0), 0), snapshot(w(50), 1000));
    expect(s.concurrency).toEqual({ rerank: 2, pack: 2 });
    expect(s.jobs).toEqual({ rerank: { count: 50, meanMs: 8 } });
  });
});
