// An MCP server for tests, over stdio (default) or streamable HTTP (`--http`, on 127.0.0.1 at a
// random port unless `--port N`; prints `listening <url>` on stdout). Plain ES module JavaScript, so it runs as is
// from a fresh clone after `npm ci`, with no build. Tools:
//   add(a, b)  → structured { sum } (it has an outputSchema), plus the sum as text
//   slow(ms)   → waits ms, ending early when the client cancels the request
//   fail()     → an isError result with the text "failed on purpose"
//   stats()    → { slowStarted, slowAborted, slowCompleted, pid } as structured content (pid: the
//                server's process, so a test can kill it)
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { McpServer } from '@modelcontextprotocol/sdk/server/mcp.js';
import { StdioServerTransport } from '@modelcontextprotocol/sdk/server/stdio.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { z } from 'zod';

const stats = { slowStarted: 0, slowAborted: 0, slowCompleted: 0 };

function createMcpServer() {
  const server = new McpServer({ name: 'keel-test', version: '1.0.0' });
  server.registerTool(
    'add',
    {
      description: 'Adds two numbers.',
      inputSchema: { a: z.number(), b: z.number() },
      outputSchema: { sum: z.number() },
      annotations: { readOnlyHint: true },
    },
    async ({ a, b }) => ({
      content: [{ type: 'text', text: String(a + b) }],
      structuredContent: { sum: a + b },
    }),
  );
  server.registerTool(
    'slow',
    { description: 'Waits ms milliseconds.', inputSchema: { ms: z.number().int().min(0) } },
    async ({ ms }, extra) => {
      stats.slowStarted++;
      await new Promise((resolve) => {
        const timer = setTimeout(() => {
          stats.slowCompleted++;
          resolve();
        }, ms);
        extra.signal.addEventListener('abort', () => {
          clearTimeout(timer);
          stats.slowAborted++;
          resolve();
        });
      });
      return { content: [{ type: 'text', text: `slept ${ms} ms` }] };
    },
  );
  server.registerTool('fail', { description: 'Always fails.' }, async () => ({
    isError: true,
    content: [{ type: 'text', text: 'failed on purpose' }],
  }));
  server.registerTool(
    'stats',
    {
      description: 'Counts of slow calls.',
      outputSchema: {
        slowStarted: z.number(),
        slowAborted: z.number(),
        slowCompleted: z.number(),
        pid: z.number(),
      },
    },
    async () => ({
      content: [{ type: 'text', text: JSON.stringify(stats) }],
      structuredContent: { ...stats, pid: process.pid },
    }),
  );
  return server;
}

if (process.argv.includes('--http')) {
  const sessions = new Map();
  const http = createServer(async (req, res) => {
    if (!req.url?.startsWith('/mcp')) {
      res.writeHead(404).end();
      return;
    }
    const id = req.headers['mcp-session-id'];
    let transport = typeof id === 'string' ? sessions.get(id) : undefined;
    if (!transport) {
      if (id !== undefined) {
        res.writeHead(404).end();
        return;
      }
      transport = new StreamableHTTPServerTransport({
        sessionIdGenerator: () => randomUUID(),
        onsessioninitialized: (sessionId) => sessions.set(sessionId, transport),
      });
      transport.onclose = () => sessions.delete(transport.sessionId);
      await createMcpServer().connect(transport);
    }
    await transport.handleRequest(req, res);
  });
  // `--port N` lets a test restart the server where its clients expect it.
  const at = process.argv.indexOf('--port');
  http.listen(at > 0 ? Number(process.argv[at + 1]) : 0, '127.0.0.1', () => {
    process.stdout.write(`listening http://127.0.0.1:${http.address().port}/mcp\n`);
  });
  process.on('SIGTERM', () => {
    http.closeAllConnections();
    http.close(() => process.exit(0));
  });
} else {
  await createMcpServer().connect(new StdioServerTransport());
}
