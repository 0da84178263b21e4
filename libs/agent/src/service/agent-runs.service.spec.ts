// What the service does with a synchronous run's lease, over real parts: a SQLite run store in a
// temporary directory, the in-process queue, and the chat client talking to the scripted
// chat-completions test double (test/support/llm-server.ts) over HTTP.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createChatClient } from '@keel/inference';
import { startScriptedLlm, type ScriptedLlm } from '../../../../test/support/llm-server.js';
import { until } from '../../../../test/support/until.js';
import { ToolDispatcher } from '../dispatcher.js';
import { ToolRegistry } from '../registry.js';
import { SqliteRunStore } from '../runs/sqlite-run-store.js';
import type { AgentRun } from '../runs/types.js';
import { LocalAgentQueue } from './agent-queue.js';
import { AgentRunsService } from './agent-runs.service.js';
import { LocalCancelBus } from './cancel-bus.js';

const LEASE_MS = 1_000;

let llm: ScriptedLlm;
const dirs: string[] = [];
const services: AgentRunsService[] = [];

beforeAll(async () => {
  llm = await startScriptedLlm();
});
afterEach(async () => {
  await Promise.all(services.splice(0).map((s) => s.close()));
});
afterAll(async () => {
  await llm?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function dataDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'keel-agent-service-'));
  dirs.push(dir);
  return dir;
}

/** A process's agent service over `dir`, started (on start it takes over what the last one left). */
async function startService(
  dir: string,
): Promise<{ service: AgentRunsService; store: SqliteRunStore }> {
  const store = SqliteRunStore.open(dir);
  const tools = new ToolRegistry();
  const service = new AgentRunsService({
    store,
    queue: new LocalAgentQueue(4),
    cancels: new LocalCancelBus(),
    chat: createChatClient({ url: llm.url, model: 'scripted', timeoutMs: 10_000, maxRetries: 0 }),
    tools,
    dispatch: new ToolDispatcher(tools, { maxRetries: 0 }),
    resumeOnStart: true,
    runLeaseMs: LEASE_MS,
  });
  await service.start();
  services.push(service);
  return { service, store };
}

function request() {
  return {
    requestId: randomUUID(),
    deadline: Date.now() + 30_000,
    signal: new AbortController().signal,
  };
}

describe('synchronous agent runs and their lease', () => {
  it('renews the lease while the run waits on the model, past the lease', async () => {
    const dir = dataDir();
    const { service, store } = await startService(dir);
    llm.push({ content: 'slow answer', delayMs: LEASE_MS * 2.5 });
    const answered = service.create({ input: 'slow' }, request());
    await until(async () => (await store.unfinished()).length === 1);
    const [id] = await store.unfinished();
    // Another reader of the file, past two lease lengths: still running, not abandoned.
    const reader = SqliteRunStore.open(dir);
    await new Promise((r) => setTimeout(r, LEASE_MS * 2));
    expect((await reader.get(id))?.status).toBe('running');
    expect(await answered).toMatchObject({ status: 'completed', answer: 'slow answer' });
    await reader.close();
  });

  it('ends a synchronous run ABANDONED when its process shuts down mid-run', async () => {
    const { service, store } = await startService(dataDir());
    llm.push({ hang: true });
    const seen = llm.requests.length;
    const answered = service.create({ input: 'shutdown' }, request());
    await until(() => llm.requests.length > seen);
    await service.close();
    const run = await answered;
    expect(run).toMatchObject({ status: 'failed', error: { code: 'AGENT_RUN_ABANDONED' } });
    expect((await store.get(run.id))?.status).toBe('failed');
  });

  it('on start, abandons the synchronous runs the last process left at once and resumes the async ones', async () => {
    const dir = dataDir();
    const last = SqliteRunStore.open(dir);
    const run = (async: boolean): AgentRun => ({
      id: randomUUID(),
      status: 'queued',
      spec: {
        input: async ? 'async' : 'sync',
        tools: [],
        maxSteps: 2,
        deadlineMs: 60_000,
        tokenBudget: 10_000,
        maxObservationTokens: 100,
        async,
      },
      steps: [],
      usage: { promptTokens: 0, completionTokens: 0 },
      createdAt: new Date().toISOString(),
      attempts: 0,
    });
    // What a killed process leaves: both running, the sync run's lease far from lapsing.
    const [sync, async] = [run(false), run(true)];
    await last.create(sync, { ms: 600_000 });
    await last.create(async);
    await last.start(sync.id);
    await last.start(async.id);
    await last.close();

    llm.push({ content: 'resumed' });
    const { store } = await startService(dir);
    expect(await store.get(sync.id)).toMatchObject({
      status: 'failed',
      endReason: 'error',
      error: { code: 'AGENT_RUN_ABANDONED' },
    });
    await until(async () => (await store.get(async.id))?.status === 'completed');
    expect(await store.get(async.id)).toMatchObject({ answer: 'resumed', attempts: 2 });
  });
});
