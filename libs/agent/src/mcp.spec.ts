import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  mcpStdioServer,
  startMcpHttpServer,
  type McpHttpServer,
} from '../../../test/support/mcp-server.js';
import { ToolDispatcher } from './dispatcher.js';
import { McpServerConnection, type McpServerDeclaration } from './mcp.js';
import { ToolRegistry } from './registry.js';
import type { ToolCallOutcome } from './tool-types.js';

let httpServer: McpHttpServer;

beforeAll(async () => {
  httpServer = await startMcpHttpServer();
});
afterAll(async () => {
  await httpServer?.close();
});

const transports: Array<[string, () => McpServerDeclaration]> = [
  ['stdio', () => mcpStdioServer('files')],
  ['streamable HTTP', () => ({ name: 'files', transport: 'http', url: httpServer.url })],
];

describe.each(transports)('MCP tools over %s', (_label, declare) => {
  let connection: McpServerConnection;
  let dispatcher: ToolDispatcher;
  let registry: ToolRegistry;

  beforeAll(async () => {
    connection = await McpServerConnection.connect(declare(), {
      defaults: { timeoutMs: 5_000, maxConcurrency: 4, maxResultBytes: 64 * 1024 },
    });
    registry = new ToolRegistry();
    for (const tool of connection.tools) registry.register(tool);
    dispatcher = new ToolDispatcher(registry, { maxRetries: 0 });
  });
  afterAll(async () => {
    await connection?.close();
  });

  async function call(name: string, args: unknown, ms = 5_000, signal?: AbortSignal) {
    const [outcome] = await dispatcher.dispatch(
      [{ id: 'c', name, arguments: JSON.stringify(args) }],
      { signal: signal ?? new AbortController().signal, deadline: Date.now() + ms },
    );
    return outcome;
  }

  async function slowStats(): Promise<{ slowAborted: number; slowStarted: number }> {
    const outcome = await call('files__stats', {});
    expect(outcome.ok).toBe(true);
    return (outcome as ToolCallOutcome & { result: any }).result;
  }

  it('lists the server tools as <server>__<tool> with their schemas', () => {
    expect(registry.list().map((t) => t.name)).toEqual([
      'files__add',
      'files__fail',
      'files__slow',
      'files__stats',
    ]);
    const add = registry.get('files__add')!;
    expect(add).toMatchObject({ source: 'mcp', idempotent: true, timeoutMs: 5_000 });
    expect(add.parameters).toMatchObject({ type: 'object', required: ['a', 'b'] });
    expect(add.result).toMatchObject({ type: 'object' });
    expect(registry.get('files__slow')?.idempotent).toBe(false);
  });

  it('calls a tool and prefers its structured content', async () => {
    expect(await call('files__add', { a: 2, b: 3 })).toMatchObject({
      ok: true,
      result: { sum: 5 },
    });
    const wrong = await call('files__add', { a: 'two' });
    expect(wrong).toMatchObject({ ok: false, error: { code: 'TOOL_ARGUMENTS_INVALID' } });
  });

  it('turns an isError result into TOOL_FAILED with its text', async () => {
    const outcome = await call('files__fail', {});
    expect(outcome).toMatchObject({ ok: false, error: { code: 'TOOL_FAILED' } });
    expect(outcome.ok ? '' : outcome.error.message).toContain('failed on purpose');
  });

  it('aborts a slow call at its deadline and the server sees the cancellation', async () => {
    const before = await slowStats();
    const started = Date.now();
    const outcome = await call('files__slow', { ms: 5_000 }, 300);
    expect(Date.now() - started).toBeLessThan(1_500);
    expect(outcome).toMatchObject({ ok: false, error: { code: 'DEADLINE_EXCEEDED' } });
    await expect
      .poll(async () => (await slowStats()).slowAborted, { timeout: 3_000 })
      .toBe(before.slowAborted + 1);
  });

  it('cancels a slow call when the run is cancelled', async () => {
    const before = await slowStats();
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const outcome = await call('files__slow', { ms: 5_000 }, 5_000, controller.signal);
    expect(outcome).toMatchObject({ ok: false, error: { code: 'CANCELLED' } });
    await expect
      .poll(async () => (await slowStats()).slowAborted, { timeout: 3_000 })
      .toBe(before.slowAborted + 1);
  });
});

describe('MCP connection failures', () => {
  it('is UNAVAILABLE when the server cannot start', async () => {
    await expect(
      McpServerConnection.connect(
        {
          name: 'broken',
          transport: 'stdio',
          command: process.execPath,
          args: ['-e', 'process.exit(3)'],
        },
        { timeoutMs: 3_000 },
      ),
    ).rejects.toMatchObject({ code: 'UNAVAILABLE' });
  });

  it('refuses a server name that cannot prefix tool names', async () => {
    await expect(
      McpServerConnection.connect({ ...mcpStdioServer('bad name') }),
    ).rejects.toMatchObject({ code: 'TOOL_INVALID' });
  });
});
