import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import {
  StreamableHTTPClientTransport,
  StreamableHTTPError,
} from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import type { Transport } from '@modelcontextprotocol/sdk/shared/transport.js';
import {
  ErrorCode,
  McpError,
  type CallToolResult,
  type Tool as McpToolInfo,
} from '@modelcontextprotocol/sdk/types.js';
import { KeelError } from '@keel/contracts/jobs';
import type { HeaderValue } from './http-tool.js';
import { DEFAULT_TOOL_LIMITS, type ToolDefaults } from './limits.js';
import { TOOL_NAME } from './registry.js';
import { SECRET_ENV_PREFIX, type SecretSource } from './secrets.js';
import { ToolError } from './tool-error.js';
import type { Tool, ToolInvocation } from './tool-types.js';

/** An MCP server Keel starts as a child process and speaks to over stdin/stdout. */
export interface McpStdioDeclaration {
  name: string;
  transport: 'stdio';
  command: string;
  args?: string[];
  /** Added to the SDK's safe default environment (PATH, HOME, …), not to Keel's own. */
  env?: Record<string, string>;
  cwd?: string;
}

/** An MCP server reached over streamable HTTP. */
export interface McpHttpDeclaration {
  name: string;
  transport: 'http';
  url: string;
  headers?: Record<string, HeaderValue>;
}

export type McpServerDeclaration = McpStdioDeclaration | McpHttpDeclaration;

export interface McpConnectOptions {
  defaults?: ToolDefaults;
  /** Secret header values of HTTP servers (`{ secret: 'X' }`). */
  secrets?: SecretSource;
  /** Bound of connecting and listing the tools (default 10000 ms). */
  timeoutMs?: number;
}

/** An MCP server's name: the prefix of its tools' names, so short and plain. */
export const MCP_SERVER_NAME = /^[a-zA-Z0-9_-]{1,32}$/;

/** A lost session is re-established at most this often; calls in between fail at once. */
export const MCP_RECONNECT_INTERVAL_MS = 1_000;

/**
 * One connected MCP server and the Keel tools made from its tools (`<server>__<tool>`). The
 * tools are listed once, at connect; a server that changes its list later is not followed.
 *
 * A lost session is made again on the next call: a stdio server whose process died is started
 * anew, an HTTP server that forgot the session (404, as after its restart) gets a new one. The
 * call that finds the session lost waits for the reconnect (bounded by its own deadline and
 * signal); a server that does not come back fails calls as a transient TOOL_FAILED, tried again
 * at most once per MCP_RECONNECT_INTERVAL_MS.
 */
export class McpServerConnection {
  private lost = false;
  private closed = false;
  private reconnecting?: Promise<Client>;
  private lastAttempt = 0;
  /** Sessions made after the first one. */
  reconnects = 0;

  private constructor(
    private readonly declaration: McpServerDeclaration,
    private readonly options: McpConnectOptions,
    private client: Client,
    /** Ready to register. */
    readonly tools: Tool[],
    /** Tools of the server that cannot be Keel tools (a name too long, no object schema). */
    readonly skipped: Array<{ tool: string; reason: string }>,
  ) {
    this.watch(client);
  }

  get name(): string {
    return this.declaration.name;
  }

  /**
   * Connects, lists the server's tools and wraps them. Throws TOOL_INVALID for a bad declaration
   * and UNAVAILABLE when the server cannot be started or reached in time.
   */
  static async connect(
    declaration: McpServerDeclaration,
    options: McpConnectOptions = {},
  ): Promise<McpServerConnection> {
    if (!MCP_SERVER_NAME.test(declaration.name)) {
      throw new KeelError('TOOL_INVALID', `MCP server name ${declaration.name} is invalid`, [
        { field: 'name', message: 'must be 1-32 characters of [a-zA-Z0-9_-]' },
      ]);
    }
    const timeout = options.timeoutMs ?? 10_000;
    const listed: McpToolInfo[] = [];
    let client: Client;
    try {
      client = await openSession(declaration, options.secrets, timeout);
      try {
        let cursor: string | undefined;
        do {
          const page = await client.listTools(cursor ? { cursor } : undefined, { timeout });
          listed.push(...page.tools);
          cursor = page.nextCursor;
        } while (cursor);
      } catch (error) {
        await client.close().catch(() => undefined);
        throw error;
      }
    } catch (error) {
      if (error instanceof KeelError) throw error;
      const reason = error instanceof Error ? error.message : String(error);
      throw new KeelError(
        'UNAVAILABLE',
        `MCP server ${declaration.name} could not be reached: ${reason}`,
      );
    }
    const defaults = options.defaults ?? DEFAULT_TOOL_LIMITS;
    const tools: Tool[] = [];
    const skipped: Array<{ tool: string; reason: string }> = [];
    const connection = new McpServerConnection(declaration, options, client, tools, skipped);
    for (const info of listed) {
      const name = `${declaration.name}__${info.name}`;
      if (!TOOL_NAME.test(name)) {
        skipped.push({ tool: info.name, reason: `${name} is not a valid tool name` });
        continue;
      }
      tools.push(mcpTool(connection, name, info, defaults));
    }
    return connection;
  }

  /** Calls one of the server's tools on the current session, making a new one if it was lost. */
  async callTool(
    name: string,
    remoteName: string,
    args: unknown,
    invocation: ToolInvocation,
  ): Promise<unknown> {
    const client = await this.session(name, invocation);
    // The server forgot the session (it restarted): the next call makes a new one.
    return callMcpTool(client, name, remoteName, args, invocation, () => this.lose(client));
  }

  private async session(name: string, invocation: ToolInvocation): Promise<Client> {
    if (this.closed) throw new ToolError('TOOL_FAILED', `${name}: the MCP connection is closed`);
    if (!this.lost) return this.client;
    this.reconnecting ??= this.reconnect(name).finally(() => {
      this.reconnecting = undefined;
    });
    const { signal } = invocation;
    signal.throwIfAborted();
    let onAbort: (() => void) | undefined;
    try {
      return await Promise.race([
        this.reconnecting,
        new Promise<never>((_, reject) => {
          onAbort = () => reject(signal.reason as Error);
          signal.addEventListener('abort', onAbort, { once: true });
        }),
      ]);
    } finally {
      if (onAbort) signal.removeEventListener('abort', onAbort);
    }
  }

  private async reconnect(name: string): Promise<Client> {
    const wait = this.lastAttempt + MCP_RECONNECT_INTERVAL_MS - Date.now();
    if (wait > 0) {
      throw new ToolError(
        'TOOL_FAILED',
        `${name}: MCP server ${this.name} is down; the next reconnect is in ${wait} ms`,
        true,
      );
    }
    this.lastAttempt = Date.now();
    let client: Client;
    try {
      client = await openSession(
        this.declaration,
        this.options.secrets,
        this.options.timeoutMs ?? 10_000,
      );
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ToolError(
        'TOOL_FAILED',
        `${name}: MCP server ${this.name} was lost and could not be reached again: ${reason}`,
        true,
      );
    }
    if (this.closed) {
      await client.close().catch(() => undefined);
      throw new ToolError('TOOL_FAILED', `${name}: the MCP connection is closed`);
    }
    this.client = client;
    this.lost = false;
    this.reconnects++;
    this.watch(client);
    return client;
  }

  /** The SDK calls onclose when the transport ends: the stdio child exited, or close(). */
  private watch(client: Client): void {
    client.onclose = () => this.lose(client);
  }

  private lose(client: Client): void {
    if (client !== this.client || this.lost) return;
    this.lost = true;
    // A session the server forgot still holds a transport (an HTTP one, its SSE stream).
    void client.close().catch(() => undefined);
  }

  /** Ends the session and the transport (the child process, for stdio). */
  async close(): Promise<void> {
    this.closed = true;
    await this.reconnecting?.catch(() => undefined);
    await this.client.close();
  }
}

async function openSession(
  declaration: McpServerDeclaration,
  secrets: SecretSource | undefined,
  timeout: number,
): Promise<Client> {
  const client = new Client({ name: 'keel', version: '1' });
  const transport = createTransport(declaration, secrets);
  try {
    await client.connect(transport, { timeout });
  } catch (error) {
    await client.close().catch(() => undefined);
    throw error;
  }
  return client;
}

/** An HTTP server answering 404 to a session id no longer knows it (MCP's streamable HTTP). */
function sessionGone(error: unknown): boolean {
  return error instanceof StreamableHTTPError && error.code === 404;
}

function createTransport(declaration: McpServerDeclaration, secrets?: SecretSource): Transport {
  if (declaration.transport === 'stdio') {
    return new StdioClientTransport({
      command: declaration.command,
      args: declaration.args ?? [],
      env: declaration.env,
      cwd: declaration.cwd,
      stderr: 'inherit',
    });
  }
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(declaration.headers ?? {})) {
    if (typeof value === 'string') {
      headers[name] = value;
      continue;
    }
    const secret = secrets?.(value.secret);
    if (secret === undefined) {
      throw new KeelError('TOOL_INVALID', `MCP server ${declaration.name}: a secret is not set`, [
        { field: `headers/${name}`, message: `${SECRET_ENV_PREFIX}${value.secret} is not set` },
      ]);
    }
    headers[name] = secret;
  }
  return new StreamableHTTPClientTransport(new URL(declaration.url), {
    requestInit: { headers },
  });
}

function mcpTool(
  connection: McpServerConnection,
  name: string,
  info: McpToolInfo,
  defaults: ToolDefaults,
): Tool {
  const annotations = info.annotations;
  return {
    name,
    description: info.description ?? info.title ?? info.name,
    source: 'mcp',
    parameters: info.inputSchema,
    ...(info.outputSchema ? { result: info.outputSchema } : {}),
    // A read-only tool is safe to repeat; otherwise only the server's explicit word counts.
    idempotent: annotations?.readOnlyHint === true || annotations?.idempotentHint === true,
    timeoutMs: defaults.timeoutMs,
    maxConcurrency: defaults.maxConcurrency,
    maxResultBytes: defaults.maxResultBytes,
    invoke: (args, invocation) => connection.callTool(name, info.name, args, invocation),
  };
}

async function callMcpTool(
  client: Client,
  name: string,
  remoteName: string,
  args: unknown,
  invocation: ToolInvocation,
  gone: () => void,
): Promise<unknown> {
  let result: CallToolResult;
  try {
    result = (await client.callTool(
      { name: remoteName, arguments: args as Record<string, unknown> },
      undefined,
      {
        // The SDK sends notifications/cancelled on abort, so the server stops too.
        signal: invocation.signal,
        // The dispatcher's own timer ends the call; the SDK's (60 s by default) must not come first.
        timeout: Math.max(1, invocation.deadline - Date.now()) + 1_000,
      },
    )) as CallToolResult;
  } catch (error) {
    if (invocation.signal.aborted) throw invocation.signal.reason as Error;
    if (sessionGone(error)) {
      gone();
      throw new ToolError(
        'TOOL_FAILED',
        `${name}: the MCP server no longer knows the session`,
        true,
      );
    }
    if (error instanceof McpError) {
      const transient =
        error.code === (ErrorCode.ConnectionClosed as number) ||
        error.code === (ErrorCode.RequestTimeout as number);
      throw new ToolError('TOOL_FAILED', `${name}: ${error.message}`, transient);
    }
    const reason = error instanceof Error ? error.message : String(error);
    throw new ToolError('TOOL_FAILED', `${name}: the MCP server failed: ${reason}`, true);
  }
  if (result.isError) {
    throw new ToolError(
      'TOOL_FAILED',
      `${name}: ${textOf(result) || 'the tool reported an error'}`,
    );
  }
  if (result.structuredContent !== undefined) return result.structuredContent;
  const content = result.content ?? [];
  // Text is what most tools answer; one string reads better to a model than content blocks.
  if (content.every((c) => c.type === 'text')) return textOf(result);
  return content;
}

function textOf(result: CallToolResult): string {
  return (result.content ?? []).flatMap((c) => (c.type === 'text' ? [c.text] : [])).join('\n');
}
