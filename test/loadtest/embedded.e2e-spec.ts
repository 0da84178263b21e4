// `keel loadtest` and `keel capacity` against the real embedded server with the sample corpus:
// a short run writes JSON, Markdown and SVG with the server's figures per step, a capacity search
// stays within its bounds, and the capacity plan's kustomize patch applies to the prod overlay.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { keel } from '../support/keel-cli.js';
import { REPO_ROOT, startKeel, tempDir, type KeelServer } from '../support/keel-server.js';
import { sampleDocuments } from '../support/samples.js';

const QUERIES = 'samples/keel-sample-eval';

function svgSeries(svg: string): Record<string, number> {
  const doc = new XMLParser({
    ignoreAttributes: false,
    isArray: (name) => name === 'g' || name === 'circle',
  }).parse(svg);
  const out: Record<string, number> = {};
  for (const g of doc.svg.g as any[]) {
    if (g['@_class'] === 'series') out[g['@_data-series']] = (g.circle ?? []).length;
  }
  return out;
}

describe('keel loadtest against the embedded server', () => {
  let server: KeelServer;
  const out = tempDir('keel-loadtest-');

  beforeAll(async () => {
    server = await startKeel();
    expect((await server.request('POST', '/v1/collections', { name: 'sample' })).status).toBe(201);
    const ingest = await server.request('POST', '/v1/collections/sample/documents?wait=true', {
      documents: sampleDocuments(),
    });
    expect(ingest.status).toBe(200);
  }, 120_000);

  afterAll(async () => {
    await server?.dispose();
    rmSync(out, { recursive: true, force: true });
  });

  it('runs two short steps and writes the JSON, Markdown and SVG reports', async () => {
    const dir = join(out, 'run');
    const { stdout } = await keel([
      'loadtest',
      '--url',
      server.url,
      '--collection',
      'sample',
      '--beir',
      QUERIES,
      '--phase',
      'steps:4,8:1.5',
      '--max-requests',
      '200',
      '--max-seconds',
      '20',
      // keel capacity below needs a held step; a shared machine must not break one by a late send.
      '--late-ms',
      '1000',
      '--error-budget',
      '0.5',
      '--out',
      dir,
    ]);
    expect(stdout).toMatch(/^1 {2}step 4 rps for 1\.5 s/m);
    expect(stdout).toMatch(/^2 {2}step 8 rps for 1\.5 s/m);
    expect(stdout).toContain(`reports: ${join(dir, 'loadtest.json')}`);

    const result = JSON.parse(readFileSync(join(dir, 'loadtest.json'), 'utf8'));
    expect(result).toMatchObject({ kind: 'keel-loadtest', version: 1, stopped: 'completed' });
    expect(result.target).toEqual({ url: server.url, collection: 'sample', mode: 'embedded' });
    expect(result.options.queries).toMatchObject({ split: 'test', count: 12 });
    expect(result.options.mix).toEqual({ retrieve: 0.7, query: 0.3 });
    // The setup the numbers hold for: readiness and the runtime sizing.
    expect(result.setup.health.status).toBe(200);
    expect(result.setup.health.details.jobs.mode).toBe('embedded');
    expect(result.setup.runtime.poolThreads).toBeGreaterThanOrEqual(1);
    expect(result.setup.runtime.hostCores).toBeGreaterThanOrEqual(1);
    expect(result.setup.runtime).toHaveProperty('cpuQuotaCores');

    expect(result.steps).toHaveLength(2);
    for (const [i, step] of result.steps.entries()) {
      const rps = [4, 8][i];
      expect(step.offeredRps).toBe(rps);
      expect(step.counts.scheduled).toBe(rps * 1.5);
      expect(step.counts.sent + step.counts.dropped).toBe(step.counts.scheduled);
      expect(step.counts.ok + step.counts.errors).toBe(step.counts.sent);
      expect(step.latencyMs.count).toBe(step.counts.ok);
      const l = step.latencyMs;
      expect(l.p50).toBeLessThanOrEqual(l.p90);
      expect(l.p90).toBeLessThanOrEqual(l.p99);
      expect(l.p99).toBeLessThanOrEqual(l.p999);
      expect(l.p999).toBeLessThanOrEqual(l.max);
      expect(Object.keys(step.byEndpoint).sort()).toEqual(
        Object.keys(step.byEndpoint).length === 2
          ? ['query', 'retrieve']
          : Object.keys(step.byEndpoint),
      );
      // The server's figures over the step, from its /metrics.
      const s = step.server;
      expect(s.cpuSeconds).toBeGreaterThan(0);
      expect(s.cpuSecondsPerRequest).toBeGreaterThan(0);
      expect(s.rssBytes).toBeGreaterThan(0);
      expect(s.eventLoopDelayP99Ms).toBeGreaterThanOrEqual(0);
      expect(s.queueDepthSource).toBe('keel_job_pool_queue_depth');
      expect(s.queueDepth).toBeGreaterThanOrEqual(0);
      // Every request searches once; /v1/query also reranks and packs, in the API's own pool.
      expect(s.jobs.search.count).toBeGreaterThan(0);
      expect(s.jobsPerRequest.search).toBeGreaterThan(0);
      expect(step.verdict.status).toMatch(/held|broke/);
    }

    const md = readFileSync(join(dir, 'loadtest.md'), 'utf8');
    expect(md).toContain('### Step 1 — step 4 rps for 1.5 s');
    expect(md).toContain('### Step 2 — step 8 rps for 1.5 s');
    expect(md).toContain('![latency percentiles against offered load](latency.svg)');
    const svg = readFileSync(join(dir, 'latency.svg'), 'utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(svgSeries(svg)).toEqual({ p50: 2, p99: 2, 'p99.9': 2 });
  });

  it('--find-capacity stays within its step bound, and stops at the first step that breaks', async () => {
    const bounded = join(out, 'find');
    await keel([
      'loadtest',
      '--url',
      server.url,
      '--collection',
      'sample',
      '--beir',
      QUERIES,
      '--find-capacity',
      '--slo-p99',
      '10000',
      '--error-budget',
      '0.5',
      '--start-rps',
      '3',
      '--factor',
      '2',
      '--step-seconds',
      '1',
      '--max-steps',
      '3',
      '--out',
      bounded,
    ]);
    const found = JSON.parse(readFileSync(join(bounded, 'loadtest.json'), 'utf8'));
    expect(found.options.findCapacity).toEqual({
      startRps: 3,
      factor: 2,
      stepSeconds: 1,
      maxSteps: 3,
    });
    expect(found.steps.length).toBeGreaterThanOrEqual(1);
    expect(found.steps.length).toBeLessThanOrEqual(3);
    expect(found.steps.map((s: any) => s.offeredRps)).toEqual(
      [3, 6, 12].slice(0, found.steps.length),
    );
    if (found.capacity.highestRateHeld !== null) {
      expect(found.steps[found.capacity.heldStep].verdict.status).toBe('held');
    }
    const svg = readFileSync(join(bounded, 'latency.svg'), 'utf8');
    expect(XMLValidator.validate(svg)).toBe(true);
    expect(Object.keys(svgSeries(svg))).toEqual(['p50', 'p99', 'p99.9']);

    // An SLO no step can hold: the first step breaks and the search ends there.
    const broken = join(out, 'broken');
    await keel([
      'loadtest',
      '--url',
      server.url,
      '--collection',
      'sample',
      '--beir',
      QUERIES,
      '--find-capacity',
      '--slo-p99',
      '0.001',
      '--start-rps',
      '3',
      '--step-seconds',
      '1',
      '--max-steps',
      '3',
      '--out',
      broken,
    ]);
    const none = JSON.parse(readFileSync(join(broken, 'loadtest.json'), 'utf8'));
    expect(none.steps).toHaveLength(1);
    expect(none.stopped).toBe('broken');
    expect(none.steps[0].verdict.status).toBe('broke');
    expect(none.steps[0].verdict.reasons[0]).toMatch(/> SLO 0.001 ms/);
    expect(none.capacity).toMatchObject({ highestRateHeld: null, brokenStep: 0 });
  });

  it('keel capacity prints the arithmetic, and its patch applies to the prod overlay', async () => {
    const from = join(out, 'run', 'loadtest.json');
    const patchFile = join(out, 'capacity-patch.yaml');
    const { stdout } = await keel([
      'capacity',
      '--from',
      from,
      '--peak-rps',
      '200',
      '--headroom',
      '0.7',
      '--write-patch',
      patchFile,
    ]);
    const result = JSON.parse(readFileSync(from, 'utf8'));
    const held = result.capacity.highestRateHeld;
    expect(held).not.toBeNull();
    const target = Math.round(held * 0.7 * 1000) / 1000;
    const replicas = Math.ceil(200 / (held * 0.7) - 1e-9);
    expect(stdout).toMatch(/C×h +per-pod rate at the target/);
    expect(stdout).toContain(`ceil(P / (C×h)) = ceil(200 / ${target})`);
    expect(stdout).toContain(
      `ScaledObject keel-api: minReplicaCount 2, maxReplicaCount ${Math.max(2, replicas)}`,
    );
    expect(stdout).toMatch(/embedded mode/);
    expect(stdout).toMatch(/ScaledObject keel-worker-query: advanced.scalingModifiers.target 1/);
    const json = JSON.parse(
      (await keel(['capacity', '--from', from, '--peak-rps', '200', '--json'])).stdout,
    );
    expect(json.api.replicasAtPeak).toBe(replicas);
    expect(json.api.maxReplicaCount).toBe(Math.max(2, replicas));
    const query = json.groups.find((g: any) => g.name === 'query');
    expect(query.measured).toBe(true);
    expect(query.concurrencySource).toMatch(/--worker-cpu 1/);
    expect(existsSync(patchFile)).toBe(true);

    // Render prod with the patch appended, as its comment says.
    const k8s = join(out, 'k8s');
    cpSync(join(REPO_ROOT, 'k8s'), k8s, { recursive: true });
    const kustomization = join(k8s, 'overlays/prod/kustomization.yaml');
    const patch = readFileSync(patchFile, 'utf8');
    const cm = /configMapGenerator:\n([\s\S]*?)(?=^patches:)/m.exec(patch)![1];
    const patches = /^patches:\n([\s\S]*)$/m.exec(patch)![1];
    writeFileSync(
      kustomization,
      readFileSync(kustomization, 'utf8')
        .replace(/^configMapGenerator:\n/m, `configMapGenerator:\n${cm}`)
        // At the end of the list: prod's own patch of the API's ScaledObject comes first, so
        // ours wins.
        .replace(/\ncomponents:/, `${patches}\ncomponents:`),
    );
    mkdirSync(join(out, 'rendered'), { recursive: true });
    const render = spawnSync(
      'bash',
      [
        '-c',
        '. scripts/k8s-tools.sh && k8s_ensure_kustomize && "${K8S_KUSTOMIZE[@]}" "$1" > "$2/prod.yaml" && "$(k8s_python)" scripts/k8s-check.py to-json "$2/prod.yaml"',
        'render',
        join(k8s, 'overlays/prod'),
        join(out, 'rendered'),
      ],
      { cwd: REPO_ROOT, encoding: 'utf8', maxBuffer: 64 * 2 ** 20 },
    );
    expect(render.status, render.stderr).toBe(0);
    const objects = JSON.parse(render.stdout) as any[];
    const api = objects.find((o) => o.kind === 'ScaledObject' && o.metadata.name === 'keel-api');
    // prod's own values are 3 and 30: the patch's win.
    expect(api.spec).toMatchObject({
      minReplicaCount: 2,
      maxReplicaCount: Math.max(2, replicas),
    });
    expect(objects.filter((o) => o.kind === 'HorizontalPodAutoscaler')).toEqual([]);
    const so = objects.find(
      (o) => o.kind === 'ScaledObject' && o.metadata.name === 'keel-worker-query',
    );
    expect(so.spec.minReplicaCount).toBe(query.minReplicaCount);
    expect(so.spec.maxReplicaCount).toBe(query.maxReplicaCount);
    expect(so.spec.advanced.scalingModifiers.target).toBe('1');
  });
});
