import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

/** The test MCP server's script (tools add, slow, fail, stats; see the script's header). */
export const MCP_SERVER_SCRIPT = fileURLToPath(new URL('./mcp-server.mjs', import.meta.url));

/** A stdio MCP server declaration for the test server (`name` becomes the tools' prefix). */
export function mcpStdioServer(name = 'test'): {
  name: string;
  transport: 'stdio';
  command: string;
  args: string[];
} {
  return { name, transport: 'stdio', command: process.execPath, args: [MCP_SERVER_SCRIPT] };
}

export interface McpHttpServer {
  /** `http://127.0.0.1:<port>/mcp` */
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the test MCP server over streamable HTTP in a child process (a real server with its own
 * event loop, as in production) and resolves once it listens: on `port`, or a free one.
 */
export async function startMcpHttpServer(port?: number): Promise<McpHttpServer> {
  const args = [MCP_SERVER_SCRIPT, '--http', ...(port ? ['--port', String(port)] : [])];
  const child = spawn(process.execPath, args, {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      out += chunk;
      const match = /listening (\S+)/.exec(out);
      if (match?.[1]) resolve(match[1]);
    });
    child.once('exit', (code) =>
      reject(new Error(`the MCP server exited (${code}) before listening`)),
    );
    child.once('error', reject);
  });
  return {
    url,
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}
