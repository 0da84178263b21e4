// Agent runs in distributed mode: runs and registered tools in a real redis-server, async runs as
// jobs on the BullMQ queue `agent` that every API replica consumes. A cancel reaches the replica
// that executes the run; a replica killed mid-run loses its lock and another takes the run over
// from its last persisted step, while a synchronous run of a killed replica, which nothing takes
// over, is reported abandoned once its lease lapses. The LLM is the scripted chat-completions
// test double.
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startScriptedLlm, type ScriptedLlm } from '../support/llm-server.js';
import { startKeel, tempDir, type KeelServer } from '../support/keel-server.js';
import { RedisServer } from '../support/redis.js';
import { startToolServer, type ToolServer } from '../support/tool-server.js';
import { until } from '../support/until.js';

describe('agent runs (distributed)', () => {
  let redis: RedisServer;
  let llm: ScriptedLlm;
  let tools: ToolServer;
  let redisClient: Redis;
  const replicas: KeelServer[] = [];
  const env = () => ({
    REDIS_URL: redis.url,
    LLM_URL: llm.url,
    LLM_MODEL: 'scripted',
    LLM_MAX_RETRIES: '0',
    KEEL_TOOL_ALLOWED_HOSTS: '127.0.0.1',
    KEEL_TOOL_ALLOW_PRIVATE_NETWORKS: 'true',
    // Short locks: a dead replica's run comes back in seconds.
    KEEL_JOB_LOCK_MS: '2000',
    // Short leases: a dead replica's synchronous run is reported abandoned in seconds.
    KEEL_AGENT_RUN_LEASE_MS: '1500',
  });
  const replica = async () => {
    const r = await startKeel({ dataDir: tempDir('keel-agent-dist-'), env: env() });
    replicas.push(r);
    return r;
  };
  const status = async (r: KeelServer, id: string) =>
    (await r.request('GET', `/v1/agent/runs/${id}`)).body as Record<string, any>;

  beforeAll(async () => {
    redis = await RedisServer.start();
    redisClient = redis.client();
    llm = await startScriptedLlm();
    tools = await startToolServer();
  }, 60_000);

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.dispose()));
    redisClient?.disconnect();
    await llm?.close();
    await tools?.close();
    await redis?.stop();
  });

  it('a tool registered on one replica is served by the others', async () => {
    const [a, b] = [await replica(), await replica()];
    const res = await a.request('POST', '/v1/tools', {
      name: 'slow',
      description: 'sleeps',
      parameters: {
        type: 'object',
        properties: { ms: { type: 'integer' } },
        additionalProperties: false,
      },
      timeoutMs: 20_000,
      http: { method: 'GET', url: `${tools.url}/slow` },
    });
    expect(res.status, res.text).toBe(201);
    const listed = await b.request('GET', '/v1/tools');
    expect(listed.body.tools.map((t: { name: string }) => t.name)).toContain('slow');
  });

  it('an async run on the agent queue completes, and any replica shows its steps', async () => {
    llm.push(
      { toolCalls: [{ name: 'slow', arguments: { ms: 10 } }] },
      { content: 'queued answer' },
    );
    const [a, b] = replicas;
    const created = await a.request('POST', '/v1/agent/runs', {
      input: 'q',
      tools: ['slow'],
      async: true,
    });
    expect(created.status, created.text).toBe(202);
    const id = created.body.id as string;
    await until(async () => (await status(b, id)).status === 'completed');
    const done = await status(b, id);
    expect(done).toMatchObject({ answer: 'queued answer', attempts: 1 });
    expect(done.steps.map((s: { kind: string }) => s.kind)).toEqual([
      'plan',
      'call_tools',
      'observe',
      'plan',
      'answer',
    ]);
    // Listed by the other replica too, newest first, with its step count.
    const listed = await a.request('GET', '/v1/agent/runs?status=completed&limit=5');
    expect(listed.status).toBe(200);
    expect(listed.body.runs[0]).toMatchObject({ id, status: 'completed', stepCount: 5 });
  });

  it('DELETE on any replica aborts the run where it executes', async () => {
    tools.reset();
    llm.push({ toolCalls: [{ name: 'slow', arguments: { ms: 15_000 } }] });
    const [a, b] = replicas;
    const id = (
      await a.request('POST', '/v1/agent/runs', { input: 'c', tools: ['slow'], async: true })
    ).body.id as string;
    await until(() => tools.count('/slow') === 1);
    for (const r of [a, b]) {
      // Whichever replica does not execute it publishes the cancel; both answer 200 until it ends.
      const res = await r.request('DELETE', `/v1/agent/runs/${id}`);
      if (res.status !== 200) expect(res.body.code).toBe('AGENT_RUN_FINISHED');
    }
    await tools.waitForClosed('/slow', 1);
    await until(async () => (await status(a, id)).status === 'cancelled');
  });

  it('a synchronous run of a replica killed mid-run is reported abandoned once its lease lapses', async () => {
    const [a, b] = replicas;
    tools.reset();
    // One step only: were the run taken over, the script running out would fail it otherwise.
    llm.push({ toolCalls: [{ id: 's', name: 'slow', arguments: { ms: 8_000 } }] });
    const pending = a
      .request('POST', '/v1/agent/runs', { input: 'sync', tools: ['slow'] })
      .catch(() => undefined);
    await until(() => tools.count('/slow') === 1);
    // No API lists runs: the synchronous run's id is read from the store's open set.
    const open = await redisClient.zrange('bull:agent:unfinished', 0, -1);
    const runs = await Promise.all(open.map((id) => status(b, id)));
    const id = runs.find((r) => r.spec?.input === 'sync')?.id as string;
    expect(id).toBeDefined();
    // Running on a, its lease renewed: b sees it running for longer than the lease.
    await new Promise((r) => setTimeout(r, 2_000));
    expect((await status(b, id)).status).toBe('running');
    await a.stop('SIGKILL');
    await pending;
    const killed = Date.now();
    await until(async () => (await status(b, id)).status !== 'running', 10_000);
    expect(Date.now() - killed).toBeLessThan(5_000);
    const [seen, again] = await Promise.all([status(b, id), status(await replica(), id)]);
    expect(seen).toMatchObject({
      status: 'failed',
      endReason: 'error',
      error: { code: 'AGENT_RUN_ABANDONED' },
    });
    expect(again).toEqual(seen);
    // Nothing took it over: the slow call was made once, and the second plan never asked for.
    expect(tools.count('/slow')).toBe(1);
    const refused = await b.request('DELETE', `/v1/agent/runs/${id}`);
    expect(refused.body.code).toBe('AGENT_RUN_FINISHED');
  }, 60_000);

  it('a replica killed mid-run loses the run to another, which continues it', async () => {
    // One replica only, so the run starts on the one that is killed.
    await Promise.all(replicas.splice(0).map((r) => r.dispose()));
    tools.reset();
    const first = await replica();
    llm.push(
      { toolCalls: [{ id: 's', name: 'slow', arguments: { ms: 8_000 } }] },
      { content: 'taken over' },
    );
    const id = (
      await first.request('POST', '/v1/agent/runs', { input: 't', tools: ['slow'], async: true })
    ).body.id as string;
    await until(() => tools.count('/slow') === 1);
    await first.stop('SIGKILL');
    const second = await replica();
    await until(() => tools.count('/slow') === 2, 30_000);
    await until(async () => (await status(second, id)).status === 'completed', 30_000);
    const done = await status(second, id);
    expect(done).toMatchObject({ answer: 'taken over', attempts: 2 });
    expect(done.steps.map((s: { kind: string }) => s.kind)).toEqual([
      'plan',
      'call_tools',
      'observe',
      'plan',
      'answer',
    ]);
  }, 90_000);
});
