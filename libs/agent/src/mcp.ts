import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
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

/**
 * One connected MCP server and the Keel tools made from its tools (`<server>__<tool>`). The
 * tools are listed once, at connect; a server that changes its list later is not followed.
 */
export class McpServerConnection {
  private constructor(
    readonly name: string,
    private readonly client: Client,
    /** Ready to register. */
    readonly tools: Tool[],
    /** Tools of the server that cannot be Keel tools (a name too long, no object schema). */
    readonly skipped: Array<{ tool: string; reason: string }>,
  ) {}

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
    const client = new Client({ name: 'keel', version: '1' });
    const transport = createTransport(declaration, options.secrets);
    const listed: McpToolInfo[] = [];
    try {
      await client.connect(transport, { timeout });
      let cursor: string | undefined;
      do {
        const page = await client.listTools(cursor ? { cursor } : undefined, { timeout });
        listed.push(...page.tools);
        cursor = page.nextCursor;
      } while (cursor);
    } catch (error) {
      await client.close().catch(() => undefined);
      const reason = error instanceof Error ? error.message : String(error);
      throw new KeelError(
        'UNAVAILABLE',
        `MCP server ${declaration.name} could not be reached: ${reason}`,
      );
    }
    const defaults = options.defaults ?? DEFAULT_TOOL_LIMITS;
    const tools: Tool[] = [];
    const skipped: Array<{ tool: string; reason: string }> = [];
    for (const info of listed) {
      const name = `${declaration.name}__${info.name}`;
      if (!TOOL_NAME.test(name)) {
        skipped.push({ tool: info.name, reason: `${name} is not a valid tool name` });
        continue;
      }
      tools.push(mcpTool(client, name, info, defaults));
    }
    return new McpServerConnection(declaration.name, client, tools, skipped);
  }

  /** Ends the session and the transport (the child process, for stdio). */
  async close(): Promise<void> {
    await this.client.close();
  }
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

function mcpTool(client: Client, name: string, info: McpToolInfo, defaults: ToolDefaults): Tool {
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
    invoke: (args, invocation) => callMcpTool(client, name, info.name, args, invocation),
  };
}

async function callMcpTool(
  client: Client,
  name: string,
  remoteName: string,
  args: unknown,
  invocation: ToolInvocation,
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
