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

// Longer than the polls and the calls' deadlines, so a regression fails them and cleans up.
describe('a lost MCP session is made again on the next call', { timeout: 30_000 }, () => {
  const defaults = { timeoutMs: 5_000, maxConcurrency: 4, maxResultBytes: 64 * 1024 };

  async function callOn(connection: McpServerConnection, name: string, args: unknown) {
    const registry = new ToolRegistry();
    for (const tool of connection.tools) registry.register(tool);
    const [outcome] = await new ToolDispatcher(registry, { retryBaseDelayMs: 10 }).dispatch(
      [{ id: 'c', name, arguments: JSON.stringify(args) }],
      { signal: new AbortController().signal, deadline: Date.now() + 5_000 },
    );
    return outcome as ToolCallOutcome & { result?: any };
  }

  it('starts a stdio server again after its process died', async () => {
    const connection = await McpServerConnection.connect(mcpStdioServer('files'), { defaults });
    try {
      const first = await callOn(connection, 'files__stats', {});
      const pid = first.result.pid as number;
      process.kill(pid, 'SIGKILL');
      await expect.poll(() => alive(pid), { timeout: 3_000 }).toBe(false);
      const again = await callOn(connection, 'files__add', { a: 1, b: 2 });
      expect(again).toMatchObject({ ok: true, result: { sum: 3 } });
      const stats = await callOn(connection, 'files__stats', {});
      expect(stats.result.pid).not.toBe(pid);
      expect(connection.reconnects).toBe(1);
    } finally {
      await connection.close();
    }
  });

  it('opens a new session with an HTTP server that restarted and forgot the old one', async () => {
    let server = await startMcpHttpServer();
    const connection = await McpServerConnection.connect(
      { name: 'files', transport: 'http', url: server.url },
      { defaults },
    );
    try {
      expect(await callOn(connection, 'files__add', { a: 1, b: 1 })).toMatchObject({ ok: true });
      await server.close();
      server = await startMcpHttpServer(Number(new URL(server.url).port));
      // The old session id gets a 404; the idempotent call's retry runs on a new session.
      const again = await callOn(connection, 'files__add', { a: 2, b: 2 });
      expect(again).toMatchObject({ ok: true, result: { sum: 4 }, attempts: 2 });
      expect(connection.reconnects).toBe(1);
    } finally {
      await connection.close();
      await server.close();
    }
  });

  it('fails calls while the server stays down, then serves again once it is back', async () => {
    let server = await startMcpHttpServer();
    const port = Number(new URL(server.url).port);
    const connection = await McpServerConnection.connect(
      { name: 'files', transport: 'http', url: server.url },
      { defaults, timeoutMs: 2_000 },
    );
    try {
      await server.close();
      const down = await callOn(connection, 'files__add', { a: 1, b: 1 });
      expect(down).toMatchObject({ ok: false, error: { code: 'TOOL_FAILED' } });
      server = await startMcpHttpServer(port);
      await expect
        .poll(async () => (await callOn(connection, 'files__add', { a: 1, b: 1 })).ok, {
          timeout: 5_000,
          interval: 200,
        })
        .toBe(true);
    } finally {
      await connection.close();
      await server.close();
    }
  });
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

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
