import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { KeelError, type ErrorDetail } from '@keel/contracts/jobs';
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { createHttpTool, parseHttpToolDeclaration, type HttpToolContext } from './http-tool.js';
// The MCP SDK loads only when the file names MCP servers (start-up of every other deployment).
import type { McpServerConnection, McpServerDeclaration } from './mcp.js';
import type { ToolRegistry } from './registry.js';
import { ajvDetails } from './schema.js';

/** KEEL_TOOLS_FILE: the tools an operator declares, registered at boot. */
export interface ToolsFile {
  /** HTTP tool declarations (checked by parseHttpToolDeclaration). */
  http: unknown[];
  mcp: McpServerDeclaration[];
}

const STRING_MAP = { type: 'object', additionalProperties: { type: 'string' } } as const;

const FILE_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  properties: {
    http: { type: 'array', items: { type: 'object' } },
    mcp: {
      type: 'array',
      items: {
        type: 'object',
        required: ['name', 'transport'],
        properties: { name: { type: 'string' }, transport: { enum: ['stdio', 'http'] } },
      },
    },
  },
} as const;

const SERVER_SCHEMAS = {
  stdio: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'transport', 'command'],
    properties: {
      name: { type: 'string' },
      transport: { const: 'stdio' },
      command: { type: 'string', minLength: 1 },
      args: { type: 'array', items: { type: 'string' } },
      env: STRING_MAP,
      cwd: { type: 'string', minLength: 1 },
    },
  },
  http: {
    type: 'object',
    additionalProperties: false,
    required: ['name', 'transport', 'url'],
    properties: {
      name: { type: 'string' },
      transport: { const: 'http' },
      url: { type: 'string', pattern: '^https?://' },
      headers: {
        type: 'object',
        additionalProperties: {
          anyOf: [
            { type: 'string' },
            {
              type: 'object',
              additionalProperties: false,
              required: ['secret'],
              properties: { secret: { type: 'string', pattern: '^[A-Za-z0-9_]{1,64}$' } },
            },
          ],
        },
      },
    },
  },
} as const;

// Compiled on first use: only a deployment with a tools file pays for Ajv's code generation.
let validators:
  { file: ValidateFunction; stdio: ValidateFunction; http: ValidateFunction } | undefined;
function fileValidators() {
  if (!validators) {
    const ajv = new Ajv2020({ strict: true, allErrors: true });
    validators = {
      file: ajv.compile(FILE_SCHEMA),
      stdio: ajv.compile(SERVER_SCHEMAS.stdio),
      http: ajv.compile(SERVER_SCHEMAS.http),
    };
  }
  return validators;
}

/**
 * Reads and checks the tools file. Errors name the file and where in it: the line and column of
 * a JSON syntax error, or the JSON pointer of a bad value (`/http/2/http/url`), in `details`.
 * Relative `cwd`s of stdio servers are taken from the file's directory (and default to it), so a
 * file and the servers it names can be shipped together.
 */
export async function loadToolsFile(path: string): Promise<ToolsFile> {
  const text = await readFile(path, 'utf8').catch((error: unknown) => {
    throw new KeelError(
      'TOOL_INVALID',
      `cannot read the tools file ${path}: ${(error as Error).message}`,
    );
  });
  return parseToolsFile(text, path);
}

export function parseToolsFile(text: string, path: string): ToolsFile {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (error) {
    throw new KeelError('TOOL_INVALID', `${path}: ${syntaxError(text, error)}`);
  }
  const { file: validateFile } = fileValidators();
  if (!validateFile(data)) {
    throw fileError(path, ajvDetails(validateFile.errors));
  }
  const file = data as { http?: unknown[]; mcp?: Array<{ transport: 'stdio' | 'http' }> };
  const problems: ErrorDetail[] = [];
  const http = file.http ?? [];
  http.forEach((declaration, i) => {
    try {
      parseHttpToolDeclaration(declaration, `/http/${i}`);
    } catch (error) {
      problems.push(...((error as KeelError).details ?? []));
    }
  });
  const mcp = (file.mcp ?? []) as McpServerDeclaration[];
  const base = dirname(resolve(path));
  mcp.forEach((server, i) => {
    const validate = fileValidators()[server.transport];
    if (!validate(server)) problems.push(...ajvDetails(validate.errors, `/mcp/${i}`));
    else if (server.transport === 'stdio') server.cwd = resolve(base, server.cwd ?? '.');
  });
  const names = [...http, ...mcp].flatMap((d) =>
    typeof (d as { name?: unknown }).name === 'string' ? [(d as { name: string }).name] : [],
  );
  for (const name of new Set(names.filter((n, i) => names.indexOf(n) !== i))) {
    problems.push({ field: '(root)', message: `the name ${name} is declared twice` });
  }
  if (problems.length > 0) throw fileError(path, problems);
  return { http, mcp };
}

/** What registering the tools file produced: shut it down with `close()`. */
export interface ConfiguredTools {
  /** Names registered, HTTP and MCP. */
  tools: string[];
  mcp: McpServerConnection[];
  /** MCP tools left out, with the reason (e.g. a schema Ajv cannot compile). */
  skipped: Array<{ tool: string; reason: string }>;
  close(): Promise<void>;
}

/**
 * Registers the file's HTTP tools and connects its MCP servers (in parallel), registering their
 * tools. Any bad HTTP tool or unreachable server fails the whole boot, with every problem listed:
 * a half-configured agent is worse than one that does not start.
 */
export async function registerToolsFile(
  registry: ToolRegistry,
  file: ToolsFile,
  context: HttpToolContext,
  options: { path?: string; mcpTimeoutMs?: number } = {},
): Promise<ConfiguredTools> {
  const path = options.path ?? 'the tools file';
  const problems: ErrorDetail[] = [];
  const http = file.http.flatMap((declaration, i) => {
    try {
      return [createHttpTool(declaration, context, `/http/${i}`)];
    } catch (error) {
      problems.push(...((error as KeelError).details ?? [{ message: (error as Error).message }]));
      return [];
    }
  });
  const { McpServerConnection } =
    file.mcp.length > 0 ? await import('./mcp.js') : { McpServerConnection: undefined };
  const settled = await Promise.allSettled(
    file.mcp.map((server) =>
      McpServerConnection!.connect(server, {
        defaults: context.defaults,
        secrets: context.secrets,
        timeoutMs: options.mcpTimeoutMs,
      }),
    ),
  );
  const mcp: McpServerConnection[] = [];
  settled.forEach((result, i) => {
    if (result.status === 'fulfilled') mcp.push(result.value);
    else problems.push({ field: `/mcp/${i}`, message: (result.reason as Error).message });
  });
  const close = async () => {
    await Promise.allSettled(mcp.map((c) => c.close()));
  };
  if (problems.length > 0) {
    await close();
    throw fileError(path, problems);
  }
  const tools: string[] = [];
  const skipped: Array<{ tool: string; reason: string }> = [];
  try {
    for (const tool of http) {
      registry.register(tool);
      tools.push(tool.name);
    }
    for (const connection of mcp) {
      skipped.push(...connection.skipped);
      for (const tool of connection.tools) {
        try {
          registry.register(tool);
          tools.push(tool.name);
        } catch (error) {
          // A server's schema is not ours to fix: leave that tool out, keep the others.
          if (error instanceof KeelError && error.code === 'TOOL_INVALID') {
            const reason = [error.message, ...(error.details ?? []).map((d) => d.message)].join(
              ': ',
            );
            skipped.push({ tool: tool.name, reason });
          } else {
            throw error;
          }
        }
      }
    }
  } catch (error) {
    for (const name of tools) registry.remove(name);
    await close();
    throw error;
  }
  return { tools, mcp, skipped, close };
}

function fileError(path: string, details: ErrorDetail[]): KeelError {
  const lines = details.map((d) => `${d.field ?? ''} ${d.message}`.trim());
  return new KeelError('TOOL_INVALID', `${path}: ${lines.join('; ')}`, details);
}

/** V8's JSON error with a line and column when it gives only a position. */
function syntaxError(text: string, error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  if (/line \d+ column \d+/.test(message)) return message;
  const position = /position (\d+)/.exec(message)?.[1];
  if (position === undefined) return message;
  const before = text.slice(0, Number(position));
  const line = before.split('\n').length;
  const column = Number(position) - before.lastIndexOf('\n');
  return `${message} (line ${line} column ${column})`;
}
