// The lease of synchronous runs, against both stores: SQLite files in a temporary directory and a
// real redis-server (test/support/redis.ts). Two store instances stand for two readers: two API
// replicas on one Redis, or two handles on one SQLite file.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { migrate, openDatabase } from '@keel/platform/sqlite';
import { RedisServer } from '../../../../test/support/redis.js';
import { RedisRunStore } from './redis-run-store.js';
import { AGENT_STORE_FILE, SqliteRunStore } from './sqlite-run-store.js';
import type { AgentRun, AgentRunStore } from './types.js';

const LEASE = { ms: 150 };
const lapse = () => new Promise((r) => setTimeout(r, LEASE.ms + 100));

function newRun(async: boolean): AgentRun {
  return {
    id: randomUUID(),
    status: 'queued',
    spec: {
      input: 'q',
      tools: [],
      maxSteps: 2,
      deadlineMs: 60_000,
      tokenBudget: 1_000,
      maxObservationTokens: 100,
      async,
    },
    steps: [],
    usage: { promptTokens: 0, completionTokens: 0 },
    createdAt: new Date().toISOString(),
    attempts: 0,
  };
}

interface Stores {
  /** Two readers of the same runs. */
  a: AgentRunStore;
  b: AgentRunStore;
}

let redis: RedisServer;
const clients: Redis[] = [];
const dirs: string[] = [];

beforeAll(async () => {
  redis = await RedisServer.start();
}, 30_000);

afterAll(async () => {
  for (const c of clients) c.disconnect();
  await redis?.dispose();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const backends: Array<[string, () => Stores]> = [
  [
    'sqlite',
    () => {
      const dir = mkdtempSync(join(tmpdir(), 'keel-runs-'));
      dirs.push(dir);
      return { a: SqliteRunStore.open(dir), b: SqliteRunStore.open(dir) };
    },
  ],
  [
    'redis',
    () => {
      const prefix = `t${randomUUID().slice(0, 8)}`;
      const [one, two] = [redis.client(), redis.client()];
      clients.push(one, two);
      return { a: new RedisRunStore(one, prefix, 3600), b: new RedisRunStore(two, prefix, 3600) };
    },
  ],
];

describe.each(backends)('the %s run store', (_name, open) => {
  it('reports a synchronous run whose lease lapsed as failed AGENT_RUN_ABANDONED, to every reader', async () => {
    const { a, b } = open();
    const run = newRun(false);
    await a.create(run, LEASE);
    await a.start(run.id);
    expect((await b.get(run.id))?.status).toBe('running');
    await lapse();
    const [first, second] = await Promise.all([a.get(run.id), b.get(run.id)]);
    expect(first).toMatchObject({
      status: 'failed',
      endReason: 'error',
      error: { code: 'AGENT_RUN_ABANDONED' },
    });
    expect(first?.error?.message).toMatch(/process executing this synchronous run stopped/);
    expect(second).toEqual(first);
    // Written, not computed per read: later reads agree, and nothing reopens it.
    expect(await b.get(run.id)).toEqual(first);
    expect(await a.renewLease(run.id, 10_000)).toBe(false);
    expect(await a.unfinished()).not.toContain(run.id);
    await a.finish(run.id, { status: 'completed', endReason: 'answer', answer: 'late' });
    expect((await b.get(run.id))?.status).toBe('failed');
  });

  it('keeps a run whose lease is renewed, and stops renewing an ended one', async () => {
    const { a, b } = open();
    const run = newRun(false);
    await a.create(run, LEASE);
    await a.start(run.id);
    expect(await a.renewLease(run.id, 10_000)).toBe(true);
    await lapse();
    expect((await b.get(run.id))?.status).toBe('running');
    await a.finish(run.id, { status: 'completed', endReason: 'answer', answer: 'done' });
    expect(await a.renewLease(run.id, 10_000)).toBe(false);
    expect(await b.get(run.id)).toMatchObject({ status: 'completed', answer: 'done' });
  });

  it('gives an async run no lease: it stays open for its queue to hand over', async () => {
    const { a, b } = open();
    const run = newRun(true);
    await a.create(run);
    await a.start(run.id);
    await lapse();
    expect((await b.get(run.id))?.status).toBe('running');
    expect(await a.unfinished()).toContain(run.id);
  });

  it('lists runs newest first, a page at a time, by status, with their step counts', async () => {
    const { a, b } = open();
    // Recent: the Redis index trims entries older than the retention at each create.
    const t0 = Date.now() - 60_000;
    const runs = Array.from({ length: 7 }, (_, i) => ({
      ...newRun(true),
      // Two runs share a millisecond: the cursor's id keeps them apart.
      createdAt: new Date(t0 + Math.min(i, 5) * 1_000).toISOString(),
    }));
    for (const run of runs) await a.create(run);
    for (const i of [1, 3, 5]) {
      await a.start(runs[i].id);
      await a.finish(runs[i].id, { status: 'completed', endReason: 'answer', answer: 'x' });
    }
    const at = new Date().toISOString();
    await a.appendStep(
      runs[3].id,
      { index: 0, kind: 'answer', startedAt: at, finishedAt: at, answer: 'x' },
      { promptTokens: 5, completionTokens: 2 },
    );
    // Newest first: the two of the same millisecond by id, descending.
    const order = [...runs]
      .sort((x, y) => y.createdAt.localeCompare(x.createdAt) || y.id.localeCompare(x.id))
      .map((r) => r.id);

    const seen: string[] = [];
    let before: string | undefined;
    let pages = 0;
    do {
      const page = await b.list({ limit: 3, ...(before ? { before } : {}) });
      expect(page.runs.length).toBeLessThanOrEqual(3);
      seen.push(...page.runs.map((r) => r.id));
      before = page.next;
      pages++;
    } while (before && pages < 10);
    expect(seen).toEqual(order);
    expect(pages).toBe(3);

    const done = await b.list({ limit: 10, status: 'completed' });
    expect(done.runs.map((r) => r.id)).toEqual([runs[5].id, runs[3].id, runs[1].id]);
    expect(done.next).toBeUndefined();
    const third = done.runs[1];
    expect(third).toMatchObject({ stepCount: 1, usage: { promptTokens: 5, completionTokens: 2 } });
    expect(third).not.toHaveProperty('answer');
    expect(third).not.toHaveProperty('steps');
  });

  it('lists a synchronous run whose lease lapsed as ended', async () => {
    const { a, b } = open();
    const run = newRun(false);
    await a.create(run, LEASE);
    await a.start(run.id);
    await lapse();
    const page = await b.list({ limit: 5, status: 'running' });
    expect(page.runs.map((r) => r.id)).not.toContain(run.id);
    const all = await b.list({ limit: 5 });
    expect(all.runs.find((r) => r.id === run.id)?.error?.code).toBe('AGENT_RUN_ABANDONED');
  });

  it('abandons a synchronous run that never started, too', async () => {
    const { a, b } = open();
    const run = newRun(false);
    await a.create(run, LEASE);
    await lapse();
    expect((await b.get(run.id))?.error?.code).toBe('AGENT_RUN_ABANDONED');
  });
});

describe('the sqlite run store', () => {
  it('opens a file of the version before leases; its runs have none', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keel-runs-v1-'));
    dirs.push(dir);
    const db = openDatabase(join(dir, AGENT_STORE_FILE), { busyTimeoutMs: 1_000 });
    migrate(db, 'agent', [
      {
        version: 1,
        sql: `CREATE TABLE agent_runs (
          id TEXT PRIMARY KEY, status TEXT NOT NULL, spec TEXT NOT NULL,
          answer TEXT, end_reason TEXT, error TEXT,
          prompt_tokens INTEGER NOT NULL DEFAULT 0, completion_tokens INTEGER NOT NULL DEFAULT 0,
          request_id TEXT, created_at TEXT NOT NULL, started_at TEXT, finished_at TEXT,
          cancel_requested INTEGER NOT NULL DEFAULT 0, attempts INTEGER NOT NULL DEFAULT 0);
        CREATE INDEX agent_runs_status ON agent_runs (status);
        CREATE TABLE agent_steps (
          run_id TEXT NOT NULL REFERENCES agent_runs (id) ON DELETE CASCADE,
          idx INTEGER NOT NULL, step TEXT NOT NULL, PRIMARY KEY (run_id, idx));`,
      },
    ]);
    const old = newRun(false);
    db.prepare(
      `INSERT INTO agent_runs (id, status, spec, created_at) VALUES (?, 'running', ?, ?)`,
    ).run(old.id, JSON.stringify(old.spec), old.createdAt);
    db.close();

    const store = SqliteRunStore.open(dir);
    await lapse();
    expect((await store.get(old.id))?.status).toBe('running');
    expect(await store.unfinished()).toEqual([old.id]);
    await store.close();
  });
});
