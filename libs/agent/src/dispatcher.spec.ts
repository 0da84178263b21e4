import { Registry } from 'prom-client';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startToolServer, type ToolServer } from '../../../test/support/tool-server.js';
import { ToolDispatcher } from './dispatcher.js';
import { EgressPolicy } from './egress.js';
import { GuardedHttp } from './http-request.js';
import { createHttpTool, type HttpToolDeclaration } from './http-tool.js';
import { ToolRegistry } from './registry.js';
import type { Tool, ToolCallOutcome, ToolCallRequest } from './tool-types.js';

let server: ToolServer;
const egress = new EgressPolicy({ allowedHosts: ['127.0.0.1'], allowPrivateNetworks: true });
const http = new GuardedHttp(egress);
const context = { egress, http, secrets: () => undefined };

beforeAll(async () => {
  server = await startToolServer();
});
afterAll(async () => {
  http.close();
  await server.close();
});
beforeEach(() => server.reset());

type Declaration = Omit<Partial<HttpToolDeclaration>, 'http'> & {
  http: Partial<HttpToolDeclaration['http']> & { path: string };
};

function httpTool({ http: { path, ...request }, ...rest }: Declaration): Tool {
  return createHttpTool(
    {
      name: 'echo',
      description: 'test tool',
      parameters: { type: 'object' },
      ...rest,
      http: { method: 'GET', url: `${server.url}${path}`, ...request },
    },
    context,
  );
}

function setup(tools: Tool[], options: ConstructorParameters<typeof ToolDispatcher>[1] = {}) {
  const registry = new ToolRegistry();
  for (const tool of tools) registry.register(tool);
  return new ToolDispatcher(registry, { retryBaseDelayMs: 10, ...options });
}

let ids = 0;
function call(name: string, args: unknown = {}): ToolCallRequest {
  return {
    id: `call_${++ids}`,
    name,
    arguments: typeof args === 'string' ? args : JSON.stringify(args),
  };
}

function run(
  dispatcher: ToolDispatcher,
  calls: ToolCallRequest[],
  ms = 10_000,
  signal?: AbortSignal,
) {
  return dispatcher.dispatch(calls, {
    signal: signal ?? new AbortController().signal,
    deadline: Date.now() + ms,
  });
}

function errorOf(outcome: ToolCallOutcome | undefined) {
  expect(outcome?.ok).toBe(false);
  return outcome && !outcome.ok ? outcome.error : undefined;
}

describe('ToolDispatcher', () => {
  it('gives each call its outcome by its own deadline when a sibling hangs', async () => {
    const dispatcher = setup([
      httpTool({ name: 'echo', http: { path: '/echo' } }),
      httpTool({ name: 'slow', http: { path: '/slow?ms=100' } }),
      httpTool({ name: 'hang', idempotent: false, timeoutMs: 400, http: { path: '/hang' } }),
    ]);
    const started = Date.now();
    const outcomes = await run(dispatcher, [call('echo', { q: 1 }), call('slow'), call('hang')]);
    const elapsed = Date.now() - started;
    expect(outcomes.map((o) => o.name)).toEqual(['echo', 'slow', 'hang']);
    expect(outcomes[0]).toMatchObject({ ok: true, attempts: 1, result: { query: { q: '1' } } });
    expect(outcomes[1]).toMatchObject({ ok: true, result: { sleptMs: 100 } });
    expect(outcomes[0].durationMs).toBeLessThan(300);
    expect(outcomes[1].durationMs).toBeLessThan(350);
    expect(errorOf(outcomes[2])?.code).toBe('TOOL_TIMEOUT');
    expect(outcomes[2].durationMs).toBeGreaterThanOrEqual(390);
    // The dispatch ends at the hung call's timeout, not later.
    expect(elapsed).toBeGreaterThanOrEqual(390);
    expect(elapsed).toBeLessThan(1_000);
    await server.waitForClosed('/hang', 1);
  });

  it('ends a tool that ignores its signal at its timeout anyway', async () => {
    const stubborn: Tool = {
      name: 'stubborn',
      description: 'never settles',
      source: 'builtin',
      parameters: { type: 'object' },
      idempotent: false,
      timeoutMs: 150,
      maxConcurrency: 1,
      maxResultBytes: 1024,
      invoke: () => new Promise(() => undefined),
    };
    const dispatcher = setup([stubborn]);
    const [first, second] = await run(dispatcher, [call('stubborn'), call('stubborn')]);
    expect(errorOf(first)?.code).toBe('TOOL_TIMEOUT');
    // The bulkhead slot (maxConcurrency 1) was freed on time: the second call ran, not queued forever.
    expect(errorOf(second)?.code).toBe('TOOL_TIMEOUT');
  });

  it('says DEADLINE_EXCEEDED when the run deadline, not the tool timeout, was the bound', async () => {
    const dispatcher = setup([
      httpTool({ name: 'hang', timeoutMs: 5_000, http: { path: '/hang' } }),
    ]);
    const [outcome] = await run(dispatcher, [call('hang')], 200);
    expect(errorOf(outcome)?.code).toBe('DEADLINE_EXCEEDED');
    // No retry of a call the deadline ended, even for an idempotent tool.
    expect(outcome.attempts).toBe(1);
    await server.waitForClosed('/hang', 1);
  });

  it('retries an idempotent tool through transient failures', async () => {
    const dispatcher = setup([
      httpTool({ name: 'flaky', http: { path: '/fail?times=2&key=get' } }),
    ]);
    const [outcome] = await run(dispatcher, [call('flaky')]);
    expect(outcome).toMatchObject({ ok: true, attempts: 3, result: { ok: true, calls: 3 } });
    expect(server.count('/fail')).toBe(3);
  });

  it('does not retry a non-idempotent tool', async () => {
    const dispatcher = setup([
      httpTool({ name: 'flaky', http: { method: 'POST', path: '/fail?times=2&key=post' } }),
    ]);
    const [outcome] = await run(dispatcher, [call('flaky')]);
    expect(errorOf(outcome)).toMatchObject({ code: 'TOOL_FAILED' });
    expect(errorOf(outcome)?.message).toMatch(/answered 500/);
    expect(outcome.attempts).toBe(1);
    expect(server.count('/fail')).toBe(1);
  });

  it('does not retry a 4xx, which another attempt would only repeat', async () => {
    const dispatcher = setup([httpTool({ name: 'missing', http: { path: '/status?code=404' } })]);
    const [outcome] = await run(dispatcher, [call('missing')]);
    expect(errorOf(outcome)?.code).toBe('TOOL_FAILED');
    expect(outcome.attempts).toBe(1);
  });

  it('does not wait for a retry past the deadline', async () => {
    const dispatcher = setup([httpTool({ name: 'down', http: { path: '/status?code=503' } })], {
      retryBaseDelayMs: 10_000,
      retryMaxDelayMs: 10_000,
      random: () => 0.99,
    });
    const started = Date.now();
    const [outcome] = await run(dispatcher, [call('down')], 1_000);
    expect(errorOf(outcome)?.code).toBe('TOOL_FAILED');
    expect(outcome.attempts).toBe(1);
    expect(Date.now() - started).toBeLessThan(500);
  });

  it('opens the circuit after consecutive failures and closes it after a half-open success', async () => {
    const dispatcher = setup(
      [httpTool({ name: 'broken', http: { method: 'POST', path: '/fail?times=3&key=breaker' } })],
      { breakerFailures: 3, halfOpenAfterMs: 300 },
    );
    for (let i = 0; i < 3; i++) {
      const [outcome] = await run(dispatcher, [call('broken')]);
      expect(errorOf(outcome)?.code).toBe('TOOL_FAILED');
    }
    const [open] = await run(dispatcher, [call('broken')]);
    expect(errorOf(open)?.code).toBe('TOOL_CIRCUIT_OPEN');
    expect(server.count('/fail')).toBe(3);
    await new Promise((resolve) => setTimeout(resolve, 350));
    const [trial] = await run(dispatcher, [call('broken')]);
    expect(trial).toMatchObject({ ok: true, result: { calls: 4 } });
    const [after] = await run(dispatcher, [call('broken')]);
    expect(after).toMatchObject({ ok: true, result: { calls: 5 } });
  });

  it('refuses calls past the bulkhead and its queue with TOOL_OVERLOADED', async () => {
    const dispatcher = setup(
      [httpTool({ name: 'slow', maxConcurrency: 1, http: { path: '/slow?ms=200' } })],
      { maxQueue: 1 },
    );
    const outcomes = await run(dispatcher, [call('slow'), call('slow'), call('slow')]);
    expect(outcomes.filter((o) => o.ok)).toHaveLength(2);
    expect(outcomes.flatMap((o) => (o.ok ? [] : [o.error.code]))).toEqual(['TOOL_OVERLOADED']);
  });

  it('feeds back readable argument errors and unknown tools', async () => {
    const dispatcher = setup([
      httpTool({
        name: 'weather',
        parameters: {
          type: 'object',
          properties: { city: { type: 'string' }, unit: { enum: ['c', 'f'] } },
          required: ['city'],
          additionalProperties: false,
        },
        http: { path: '/echo' },
      }),
    ]);
    const [wrongType, notJson, missing, unknown] = await run(dispatcher, [
      call('weather', { city: 3, unit: 'k', extra: true }),
      call('weather', '{"city": '),
      call('weather', ''),
      call('nope'),
    ]);
    expect(errorOf(wrongType)?.code).toBe('TOOL_ARGUMENTS_INVALID');
    expect(errorOf(wrongType)?.message).toContain('/city must be string');
    expect(errorOf(wrongType)?.message).toContain('/unit must be one of: "c", "f"');
    expect(errorOf(wrongType)?.message).toContain("(root) must not have the property 'extra'");
    expect(errorOf(notJson)).toMatchObject({ code: 'TOOL_ARGUMENTS_INVALID' });
    expect(errorOf(notJson)?.message).toMatch(/not valid JSON/);
    expect(errorOf(missing)?.message).toContain("(root) must have required property 'city'");
    expect(errorOf(unknown)).toMatchObject({ code: 'TOOL_NOT_FOUND' });
    expect(unknown.attempts).toBe(0);
    expect(server.count('/echo')).toBe(0);
  });

  it('caps the result: a huge body is cut off and the connection closed', async () => {
    const dispatcher = setup([
      httpTool({ name: 'huge', maxResultBytes: 64 * 1024, http: { path: '/huge?mb=32' } }),
    ]);
    const [outcome] = await run(dispatcher, [call('huge')]);
    expect(errorOf(outcome)?.code).toBe('TOOL_RESULT_TOO_LARGE');
    await server.waitForClosed('/huge', 1);
    expect(server.requests.find((r) => r.path === '/huge')?.finished).toBe(false);
  });

  it('checks the serialized size and the result schema of any tool', async () => {
    const big: Tool = {
      name: 'big',
      description: 'returns a long string',
      source: 'builtin',
      parameters: { type: 'object' },
      result: { type: 'object', properties: { answer: {} }, required: ['answer'] },
      idempotent: true,
      timeoutMs: 1_000,
      maxConcurrency: 2,
      maxResultBytes: 100,
      invoke: (args) =>
        Promise.resolve((args as { size: number }).size > 0 ? 'x'.repeat(200) : { other: 1 }),
    };
    const dispatcher = setup([big]);
    const [tooLarge, invalid] = await run(dispatcher, [
      call('big', { size: 1 }),
      call('big', { size: 0 }),
    ]);
    expect(errorOf(tooLarge)?.code).toBe('TOOL_RESULT_TOO_LARGE');
    expect(errorOf(invalid)?.code).toBe('TOOL_RESULT_INVALID');
    expect(errorOf(invalid)?.message).toContain("must have required property 'answer'");
  });

  it('cancels every in-flight call when the run is cancelled', async () => {
    const dispatcher = setup([
      httpTool({ name: 'hang', timeoutMs: 5_000, http: { path: '/hang' } }),
      httpTool({ name: 'slow', timeoutMs: 5_000, http: { path: '/slow?ms=3000' } }),
    ]);
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const started = Date.now();
    const outcomes = await run(dispatcher, [call('hang'), call('slow')], 10_000, controller.signal);
    expect(Date.now() - started).toBeLessThan(1_000);
    expect(outcomes.map((o) => errorOf(o)?.code)).toEqual(['CANCELLED', 'CANCELLED']);
    await server.waitForClosed('/hang', 1);
    await server.waitForClosed('/slow', 1);

    const [early] = await run(dispatcher, [call('hang')], 10_000, AbortSignal.abort());
    expect(errorOf(early)?.code).toBe('CANCELLED');
  });

  it('counts calls by tool and outcome on an injected registry', async () => {
    const metrics = new Registry();
    const dispatcher = setup([httpTool({ name: 'echo', http: { path: '/echo' } })], { metrics });
    await run(dispatcher, [call('echo'), call('echo', '{'), call('made-up-name')]);
    const text = await metrics.metrics();
    expect(text).toContain('keel_tool_calls_total{tool="echo",outcome="ok"} 1');
    expect(text).toContain('keel_tool_calls_total{tool="echo",outcome="TOOL_ARGUMENTS_INVALID"} 1');
    expect(text).toContain('keel_tool_calls_total{tool="(unknown)",outcome="TOOL_NOT_FOUND"} 1');
    expect(text).toContain('keel_tool_call_duration_seconds_bucket');
  });
});
