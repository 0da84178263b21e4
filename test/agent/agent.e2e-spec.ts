// Agent runs end to end on the embedded mode: the built server, the scripted chat-completions
// test double as the LLM (no model can run here), a real HTTP tool server and an MCP server over
// stdio. SciFact is the collection the model searches.
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { scifactDir } from '../bench/common.js';
import {
  startScriptedLlm,
  type ChatCompletionsBody,
  type ScriptedLlm,
} from '../support/llm-server.js';
import { mcpStdioServer } from '../support/mcp-server.js';
import { startToolServer, type ToolServer } from '../support/tool-server.js';
import { until } from '../support/until.js';
import {
  KEEL_MAIN,
  REPO_ROOT,
  startKeel,
  tempDir,
  type KeelServer,
} from '../support/keel-server.js';

const run = promisify(execFile);

/** The tool messages of a request the LLM received, parsed. */
function toolMessages(request: ChatCompletionsBody | undefined): Array<Record<string, any>> {
  return (request?.messages ?? [])
    .filter((m) => m.role === 'tool')
    .map((m) => ({ ...JSON.parse(m.content ?? 'null'), toolCallId: m.tool_call_id }));
}

describe('agent runs (embedded)', () => {
  let llm: ScriptedLlm;
  let tools: ToolServer;
  let server: KeelServer;
  const dataDir = tempDir('keel-agent-');
  const toolsFile = join(dataDir, 'tools.json');
  let env: Record<string, string>;

  const httpTool = (name: string, path: string, extra: Record<string, unknown> = {}) => ({
    name,
    description: `the tool server's ${path}`,
    parameters: {
      type: 'object',
      properties: { city: { type: 'string' }, ms: { type: 'integer' } },
      ...(path.includes('{city}') ? { required: ['city'] } : {}),
      additionalProperties: false,
    },
    http: { method: 'GET', url: `${tools.url}${path}` },
    ...extra,
  });

  beforeAll(async () => {
    llm = await startScriptedLlm();
    tools = await startToolServer();
    writeFileSync(toolsFile, JSON.stringify({ http: [], mcp: [mcpStdioServer('calc')] }));
    env = {
      LLM_URL: llm.url,
      LLM_MODEL: 'scripted',
      LLM_MAX_RETRIES: '0',
      KEEL_TOOL_ALLOWED_HOSTS: '127.0.0.1',
      KEEL_TOOL_ALLOW_PRIVATE_NETWORKS: 'true',
      KEEL_TOOLS_FILE: toolsFile,
      KEEL_REQUEST_TIMEOUT_MS: '60000',
      KEEL_TOOL_SECRET_KEYED_TOKEN: 'Bearer secret-token-value-42',
    };
    server = await startKeel({ dataDir, env });
    const ingest = await run(
      process.execPath,
      [KEEL_MAIN, 'ingest', '--collection', 'scifact', '--beir', scifactDir(), '--url', server.url],
      { cwd: REPO_ROOT, env: { PATH: process.env.PATH, LOG_LEVEL: 'warn' }, timeout: 300_000 },
    );
    expect(ingest.stdout).toMatch(/scifact: 5183 documents/);
    for (const tool of [
      httpTool('weather', '/echo/weather/{city}'),
      httpTool('hang', '/hang', { timeoutMs: 500 }),
      httpTool('slow', '/slow', { timeoutMs: 20_000 }),
    ]) {
      const res = await server.request('POST', '/v1/tools', tool);
      expect(res.status, res.text).toBe(201);
    }
  }, 300_000);

  afterAll(async () => {
    await server?.stop();
    await llm?.close();
    await tools?.close();
  });

  beforeEach(() => tools.reset());

  it('lists built-in, MCP and registered tools', async () => {
    const res = await server.request('GET', '/v1/tools');
    expect(res.status).toBe(200);
    const names = res.body.tools.map((t: { name: string }) => t.name);
    expect(names).toEqual(
      expect.arrayContaining([
        'search_collection',
        'fetch_document',
        'calc__add',
        'weather',
        'hang',
      ]),
    );
    const weather = res.body.tools.find((t: { name: string }) => t.name === 'weather');
    expect(weather).toMatchObject({ source: 'http', idempotent: true });
  });

  it('shows header names, never their values: plain ones as ***, secrets by name', async () => {
    const values = /plain-key-value-0123456789|secret-token-value-42/;
    const registered = await server.request(
      'POST',
      '/v1/tools',
      httpTool('keyed', '/echo', {
        http: {
          method: 'GET',
          url: `${tools.url}/echo`,
          headers: {
            Authorization: { secret: 'KEYED_TOKEN' },
            'X-Api-Key': 'plain-key-value-0123456789',
          },
        },
      }),
    );
    expect(registered.status, registered.text).toBe(201);
    const shown = {
      method: 'GET',
      url: `${tools.url}/echo`,
      headers: { Authorization: { secret: 'KEYED_TOKEN' }, 'X-Api-Key': '***' },
    };
    expect(registered.body.http).toEqual(shown);
    const one = await server.request('GET', '/v1/tools/keyed');
    expect(one.body.http).toEqual(shown);
    const all = await server.request('GET', '/v1/tools');
    expect(all.body.tools.find((t: { name: string }) => t.name === 'keyed').http).toEqual(shown);
    for (const text of [registered.text, one.text, all.text]) expect(text).not.toMatch(values);

    // The call still sends both, and neither reaches a run's steps nor the log.
    llm.push({ toolCalls: [{ id: 'k', name: 'keyed', arguments: {} }] }, { content: 'keyed' });
    const ran = await server.request('POST', '/v1/agent/runs', {
      input: 'keyed',
      tools: ['keyed'],
    });
    expect(ran.body.status, ran.text).toBe('completed');
    const sent = tools.requests.find((r) => r.path === '/echo')?.headers;
    expect(sent).toMatchObject({
      authorization: 'Bearer secret-token-value-42',
      'x-api-key': 'plain-key-value-0123456789',
    });
    expect(server.logs.join('\n')).not.toMatch(values);
  });

  it('answers over SciFact with search_collection and an HTTP tool, every step visible', async () => {
    const claim = '0-dimensional biomaterials show inductive properties.';
    llm.push(
      {
        toolCalls: [
          {
            id: 'c1',
            name: 'search_collection',
            arguments: { collection: 'scifact', query: claim, topK: 3 },
          },
          { id: 'c2', name: 'weather', arguments: { city: 'Paris' } },
          { id: 'c3', name: 'calc__add', arguments: { a: 2, b: 3 } },
        ],
      },
      (request) => {
        const results = toolMessages(request);
        const search = results.find((r) => r.toolCallId === 'c1');
        const top = search?.output?.hits?.[0]?.documentId ?? 'none';
        return { content: `The best evidence is document ${top}.` };
      },
    );
    const res = await server.request('POST', '/v1/agent/runs', {
      input: claim,
      collection: 'scifact',
      tools: ['search_collection', 'weather', 'calc__add'],
    });
    expect(res.status, res.text).toBe(200);
    const runBody = res.body;
    expect(runBody).toMatchObject({
      status: 'completed',
      endReason: 'answer',
      truncated: false,
      attempts: 1,
    });
    expect(runBody.steps.map((s: { kind: string }) => s.kind)).toEqual([
      'plan',
      'call_tools',
      'observe',
      'plan',
      'answer',
    ]);
    const outcomes = runBody.steps[1].outcomes;
    expect(outcomes.map((o: { ok: boolean }) => o.ok)).toEqual([true, true, true]);
    // SciFact's search found real abstracts, and the model was shown them as labelled data.
    const hits = outcomes[0].result.hits;
    expect(hits).toHaveLength(3);
    expect(runBody.answer).toBe(`The best evidence is document ${hits[0].documentId}.`);
    expect(tools.count('/echo/weather/Paris')).toBe(1);
    expect(JSON.stringify(outcomes[2].result)).toContain('5');
    const shown = toolMessages(llm.requests.at(-1));
    expect(shown.map((m) => m.type)).toEqual(['tool_output', 'tool_output', 'tool_output']);
    expect(shown[0].untrusted).toBe(true);
    // The model was offered exactly the run's tools.
    expect(
      llm.requests
        .at(-1)
        ?.tools?.map((t) => t.function.name)
        .sort(),
    ).toEqual(['calc__add', 'search_collection', 'weather']);
    expect(runBody.usage.promptTokens).toBeGreaterThan(0);

    const read = await server.request('GET', `/v1/agent/runs/${runBody.id}`);
    expect(read.status).toBe(200);
    expect(read.body.steps).toEqual(runBody.steps);

    // The model calls and their tokens are on /metrics, as are the tool calls.
    const metrics = (await server.request('GET', '/metrics')).text;
    const sample = (line: RegExp) => Number(line.exec(metrics)?.[1] ?? NaN);
    expect(
      sample(/^keel_llm_calls_total\{mode="complete",outcome="ok"\} (\S+)$/m),
    ).toBeGreaterThanOrEqual(2);
    expect(sample(/^keel_llm_tokens_total\{kind="prompt"\} (\S+)$/m)).toBeGreaterThanOrEqual(
      runBody.usage.promptTokens,
    );
    expect(
      sample(/^keel_tool_calls_total\{tool="search_collection",outcome="ok"\} (\S+)$/m),
    ).toBeGreaterThanOrEqual(1);
  });

  it('an answer cut off at the token limit completes, marked truncated on the run and its step', async () => {
    llm.push(
      { toolCalls: [{ id: 'w', name: 'weather', arguments: { city: 'Lima' } }] },
      { content: 'Lima is warm, and the forecast for', finishReason: 'length' },
    );
    const res = await server.request('POST', '/v1/agent/runs', {
      input: 'cut',
      tools: ['weather'],
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({
      status: 'completed',
      endReason: 'answer',
      answer: 'Lima is warm, and the forecast for',
      truncated: true,
    });
    expect(res.body.steps.slice(-2)).toMatchObject([
      { kind: 'plan', finishReason: 'length' },
      { kind: 'answer', truncated: true },
    ]);
    const read = await server.request('GET', `/v1/agent/runs/${res.body.id}`);
    expect(read.body.truncated).toBe(true);
  });

  it('a tool call cut off at the token limit is not made; the model is told, and its whole siblings run', async () => {
    const truncatedCalls = async () =>
      Number(
        /^keel_tool_calls_total\{tool="weather",outcome="TOOL_CALL_TRUNCATED"\} (\d+)$/m.exec(
          (await server.request('GET', '/metrics')).text,
        )?.[1] ?? 0,
      );
    const before = await truncatedCalls();
    llm.push(
      {
        toolCalls: [
          { id: 'whole', name: 'weather', arguments: { city: 'Oslo' } },
          { id: 'cut', name: 'weather', arguments: '{"city": "Ber' },
        ],
        finishReason: 'length',
      },
      { content: 'Oslo is cold.' },
    );
    const res = await server.request('POST', '/v1/agent/runs', {
      input: 'two cities',
      tools: ['weather'],
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body).toMatchObject({ status: 'completed', answer: 'Oslo is cold.' });
    const calls = res.body.steps.find((s: { kind: string }) => s.kind === 'call_tools');
    expect(calls.outcomes).toMatchObject([
      { id: 'whole', ok: true },
      { id: 'cut', ok: false, attempts: 0, error: { code: 'TOOL_CALL_TRUNCATED' } },
    ]);
    expect(tools.requests.map((r) => r.path)).toEqual(['/echo/weather/Oslo']);
    const shown = toolMessages(llm.requests.at(-1));
    expect(shown.find((m) => m.toolCallId === 'cut')).toMatchObject({
      type: 'tool_error',
      code: 'TOOL_CALL_TRUNCATED',
    });
    // Counted like any other outcome, so a model that keeps running out of tokens shows.
    expect(await truncatedCalls()).toBe(before + 1);
  });

  it('one hung call does not hold its siblings; the tool server sees the hung socket closed', async () => {
    llm.push(
      {
        toolCalls: [
          { id: 'h', name: 'hang', arguments: {} },
          { id: 'w', name: 'weather', arguments: { city: 'Oslo' } },
        ],
      },
      { content: 'done' },
    );
    const started = Date.now();
    const res = await server.request('POST', '/v1/agent/runs', {
      input: 'go',
      tools: ['hang', 'weather'],
    });
    expect(res.body.status).toBe('completed');
    const [hang, weather] = res.body.steps[1].outcomes;
    expect(hang).toMatchObject({ ok: false, error: { code: 'TOOL_TIMEOUT' } });
    expect(weather.ok).toBe(true);
    expect(weather.durationMs).toBeLessThan(400);
    expect(Date.now() - started).toBeLessThan(5_000);
    await tools.waitForClosed('/hang', 1);
  });

  it('feeds invalid tool arguments back to the model instead of failing the run', async () => {
    llm.push(
      { toolCalls: [{ id: 'bad', name: 'weather', arguments: '{"city": 42' }] },
      { toolCalls: [{ id: 'bad2', name: 'weather', arguments: { city: 42 } }] },
      { content: 'I could not call the tool.' },
    );
    const res = await server.request('POST', '/v1/agent/runs', { input: 'x', tools: ['weather'] });
    expect(res.body).toMatchObject({ status: 'completed', answer: 'I could not call the tool.' });
    const errors = [toolMessages(llm.requests.at(-2))[0], toolMessages(llm.requests.at(-1))[1]];
    expect(errors.map((e) => e?.code)).toEqual([
      'TOOL_ARGUMENTS_INVALID',
      'TOOL_ARGUMENTS_INVALID',
    ]);
    expect(errors[1]?.message).toMatch(/city/);
    expect(tools.count('/echo/weather/42')).toBe(0);
  });

  it('ends at max steps with what it had', async () => {
    const call = { toolCalls: [{ name: 'weather', arguments: { city: 'Rome' } }] };
    llm.push(call, call);
    const res = await server.request('POST', '/v1/agent/runs', {
      input: 'loop',
      tools: ['weather'],
      maxSteps: 2,
    });
    expect(res.body).toMatchObject({
      status: 'failed',
      endReason: 'max_steps',
      error: { code: 'AGENT_MAX_STEPS' },
    });
    expect(res.body.steps.filter((s: { kind: string }) => s.kind === 'plan')).toHaveLength(2);
  });

  it('ends at its deadline, and the model call is aborted at the socket', async () => {
    const closed = llm.closedEarly;
    llm.push({ hang: true });
    const res = await server.request('POST', '/v1/agent/runs', { input: 'slow', deadlineMs: 800 });
    expect(res.body).toMatchObject({ status: 'failed', endReason: 'deadline' });
    await llm.waitForClosedEarly(closed + 1);
  });

  it('ends at its token budget before a call that would pass it', async () => {
    llm.push({
      toolCalls: [{ name: 'weather', arguments: { city: 'Lima' } }],
      usage: { prompt_tokens: 400, completion_tokens: 50 },
    });
    const res = await server.request('POST', '/v1/agent/runs', {
      input: 'budget',
      tools: ['weather'],
      tokenBudget: 700,
    });
    expect(res.body).toMatchObject({ status: 'failed', endReason: 'token_budget' });
    expect(res.body.usage).toEqual({ promptTokens: 400, completionTokens: 50 });
  });

  it('DELETE cancels an async run: its in-flight tool call is aborted at the socket', async () => {
    llm.push({ toolCalls: [{ name: 'slow', arguments: { ms: 15_000 } }] });
    const created = await server.request('POST', '/v1/agent/runs', {
      input: 'async',
      tools: ['slow'],
      async: true,
    });
    expect(created.status).toBe(202);
    const id = created.body.id as string;
    await until(() => tools.count('/slow') === 1);
    const cancelled = await server.request('DELETE', `/v1/agent/runs/${id}`);
    expect(cancelled.status).toBe(200);
    await tools.waitForClosed('/slow', 1);
    await until(
      async () => (await server.request('GET', `/v1/agent/runs/${id}`)).body.status === 'cancelled',
    );
    const again = await server.request('DELETE', `/v1/agent/runs/${id}`);
    expect(again).toMatchObject({ status: 409, body: { code: 'AGENT_RUN_FINISHED' } });
  });

  it('a client that goes away cancels its synchronous run and the model call', async () => {
    const closed = llm.closedEarly;
    llm.push({ hang: true });
    const controller = new AbortController();
    const pending = fetch(`${server.url}/v1/agent/runs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ input: 'leaving' }),
      signal: controller.signal,
    }).catch(() => undefined);
    await until(() => llm.requests.at(-1)?.messages.at(-1)?.content === 'leaving');
    controller.abort();
    await pending;
    await llm.waitForClosedEarly(closed + 1);
  });

  it('refuses bad input with stable codes', async () => {
    const cases: Array<[unknown, number, string]> = [
      [{ input: '' }, 400, 'VALIDATION_FAILED'],
      [{ input: 'x', maxSteps: 0 }, 400, 'VALIDATION_FAILED'],
      [{ input: 'x', tools: ['nope'] }, 404, 'TOOL_NOT_FOUND'],
      [{ input: 'x', collection: 'missing' }, 404, 'COLLECTION_NOT_FOUND'],
      [{ input: 'x', extra: 1 }, 400, 'VALIDATION_FAILED'],
    ];
    for (const [body, status, code] of cases) {
      const res = await server.request('POST', '/v1/agent/runs', body);
      expect([res.status, res.body.code], JSON.stringify(body)).toEqual([status, code]);
    }
    expect((await server.request('GET', '/v1/agent/runs/not-a-uuid')).status).toBe(400);
    expect(
      (await server.request('GET', '/v1/agent/runs/00000000-0000-4000-8000-000000000000')).body
        .code,
    ).toBe('AGENT_RUN_NOT_FOUND');
    const forbidden = await server.request('POST', '/v1/tools', {
      name: 'metadata',
      description: 'cloud metadata',
      parameters: { type: 'object' },
      http: { method: 'GET', url: 'http://169.254.169.254/latest/meta-data' },
    });
    expect([forbidden.status, forbidden.body.code]).toEqual([400, 'TOOL_INVALID']);
    const duplicate = await server.request('POST', '/v1/tools', httpTool('weather', '/echo'));
    expect([duplicate.status, duplicate.body.code]).toEqual([409, 'TOOL_EXISTS']);
  });

  it('lists the runs newest first, a page at a time, by status', async () => {
    const first = await server.request('GET', '/v1/agent/runs?limit=2');
    expect(first.status, first.text).toBe(200);
    expect(first.body.runs).toHaveLength(2);
    expect(first.body.runs[0].createdAt >= first.body.runs[1].createdAt).toBe(true);
    expect(first.body.runs[0]).not.toHaveProperty('steps');
    expect(typeof first.body.runs[0].stepCount).toBe('number');
    expect(first.body.next).toEqual(expect.any(String));
    const second = await server.request(
      'GET',
      `/v1/agent/runs?limit=2&before=${encodeURIComponent(first.body.next)}`,
    );
    expect(second.status).toBe(200);
    const ids = (res: typeof first) => res.body.runs.map((r: { id: string }) => r.id);
    expect(ids(second)).toHaveLength(2);
    expect(ids(second).some((id: string) => ids(first).includes(id))).toBe(false);
    expect(second.body.runs[0].createdAt <= first.body.runs[1].createdAt).toBe(true);

    const done = await server.request('GET', '/v1/agent/runs?status=completed&limit=100');
    expect(done.body.runs.length).toBeGreaterThan(0);
    expect(done.body.runs.every((r: { status: string }) => r.status === 'completed')).toBe(true);
    const one = done.body.runs[0];
    const whole = await server.request('GET', `/v1/agent/runs/${one.id}`);
    expect(one.stepCount).toBe(whole.body.steps.length);

    for (const query of ['limit=0', 'limit=101', 'limit=x', 'status=done', 'before=abc', 'x=1']) {
      const bad = await server.request('GET', `/v1/agent/runs?${query}`);
      expect([bad.status, bad.body.code], query).toEqual([400, 'VALIDATION_FAILED']);
    }
  });

  it('SIGTERM interrupts an async run without ending it; the next process finishes it', async () => {
    llm.push(
      { toolCalls: [{ id: 's', name: 'slow', arguments: { ms: 10_000 } }] },
      { content: 'after a graceful stop' },
    );
    const id = (
      await server.request('POST', '/v1/agent/runs', {
        input: 'graceful',
        tools: ['slow'],
        async: true,
      })
    ).body.id as string;
    await until(() => tools.count('/slow') === 1);
    const code = await server.stop('SIGTERM');
    // Nest re-raises the signal once its shutdown hooks (the agent's among them) have run.
    expect(code === 0 || server.child.signalCode === 'SIGTERM').toBe(true);
    expect(server.logs.some((l) => l.includes('job runner stopped'))).toBe(true);
    // The slow call was aborted by the shutdown, not left to finish, and the run is not ended.
    await tools.waitForClosed('/slow', 1);
    tools.reset();
    server = await startKeel({ dataDir, env });
    await until(
      async () => (await server.request('GET', `/v1/agent/runs/${id}`)).body.status === 'completed',
      30_000,
    );
    const done = (await server.request('GET', `/v1/agent/runs/${id}`)).body;
    expect(done).toMatchObject({ answer: 'after a graceful stop', attempts: 2 });
    expect(tools.count('/slow')).toBe(1);
  }, 90_000);

  it('an async run survives an API restart mid-run and continues from its last step', async () => {
    llm.push(
      { toolCalls: [{ id: 's', name: 'slow', arguments: { ms: 10_000 } }] },
      // After the restart: the call is made again (its step was not persisted), then the answer.
      { toolCalls: [{ id: 'w', name: 'weather', arguments: { city: 'Bergen' } }] },
      { content: 'resumed' },
    );
    const created = await server.request('POST', '/v1/agent/runs', {
      input: 'survive',
      tools: ['slow', 'weather'],
      async: true,
    });
    const id = created.body.id as string;
    await until(() => tools.count('/slow') === 1);
    await server.stop('SIGKILL');
    tools.reset();
    server = await startKeel({ dataDir, env });
    // The restarted process resumes at call_tools: the slow call again, then the next plan.
    await until(() => tools.count('/slow') === 1, 20_000);
    await until(
      async () => (await server.request('GET', `/v1/agent/runs/${id}`)).body.status === 'completed',
      30_000,
    );
    const done = (await server.request('GET', `/v1/agent/runs/${id}`)).body;
    expect(done).toMatchObject({ answer: 'resumed', attempts: 2 });
    expect(done.steps.map((s: { kind: string }) => s.kind)).toEqual([
      'plan',
      'call_tools',
      'observe',
      'plan',
      'call_tools',
      'observe',
      'plan',
      'answer',
    ]);
  }, 90_000);
});
