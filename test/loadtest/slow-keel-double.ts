import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A TEST DOUBLE of a slow Keel API, not Keel: it answers /v1/retrieve one request at a time,
 * each taking `serviceMs`, in arrival order (a single-threaded server that has fallen behind).
 * /health/ready, /metrics and GET /v1/collections/:name answer at once, so the load generator
 * can read its setup and its queue (`keel_job_pool_queue_depth` is the requests waiting here).
 * It records when each request arrived and when it was answered.
 */
export class SlowKeelDouble {
  readonly arrivals: number[] = [];
  readonly completions: number[] = [];
  private queue: Array<() => void> = [];
  private busy = false;

  private readonly server: Server;
  url = '';

  private constructor(serviceMs: number) {
    this.server = createServer((req, res) => {
      const url = req.url ?? '/';
      if (req.method === 'GET' && url === '/health/ready') {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ status: 'ok', details: { double: { status: 'up' } } }));
        return;
      }
      if (req.method === 'GET' && url === '/metrics') {
        const cpu = process.cpuUsage();
        res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' });
        res.end(
          [
            `process_cpu_seconds_total ${(cpu.user + cpu.system) / 1e6}`,
            `process_resident_memory_bytes ${process.memoryUsage().rss}`,
            'keel_event_loop_delay_seconds{quantile="0.99"} 0.001',
            `keel_job_pool_queue_depth ${this.queue.length}`,
            '',
          ].join('\n'),
        );
        return;
      }
      if (req.method === 'GET' && url.startsWith('/v1/collections/')) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end('{}');
        return;
      }
      if (req.method === 'POST' && url === '/v1/retrieve') {
        req.resume();
        req.on('end', () => {
          this.arrivals.push(performance.now());
          this.enqueue(() => {
            this.completions.push(performance.now());
            res.writeHead(200, { 'content-type': 'application/json' });
            res.end(
              JSON.stringify({
                hits: [],
                mode: 'bm25',
                degraded: false,
                failedLegs: [],
                legs: {},
                timings: {},
              }),
            );
          }, serviceMs);
        });
        return;
      }
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ statusCode: 404, code: 'NOT_FOUND', message: 'double' }));
    });
  }

  static async start(serviceMs: number): Promise<SlowKeelDouble> {
    const double = new SlowKeelDouble(serviceMs);
    // Open loop means many connections at once; the default backlog is plenty for this test.
    await new Promise<void>((resolve) => double.server.listen(0, '127.0.0.1', resolve));
    const { port } = double.server.address() as AddressInfo;
    double.url = `http://127.0.0.1:${port}`;
    return double;
  }

  private enqueue(answer: () => void, serviceMs: number): void {
    this.queue.push(() =>
      setTimeout(() => {
        answer();
        this.busy = false;
        this.next();
      }, serviceMs),
    );
    this.next();
  }

  private next(): void {
    if (this.busy) return;
    const job = this.queue.shift();
    if (!job) return;
    this.busy = true;
    job();
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
