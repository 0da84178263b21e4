import { KeelError } from '@keel/contracts/jobs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mcpStdioServer } from '../../../test/support/mcp-server.js';
import { startToolServer, type ToolServer } from '../../../test/support/tool-server.js';
import { EgressPolicy } from './egress.js';
import { GuardedHttp } from './http-request.js';
import { ToolRegistry } from './registry.js';
import { loadToolsFile, parseToolsFile, registerToolsFile } from './tools-file.js';

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

function failure(fn: () => unknown): KeelError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KeelError);
    return error as KeelError;
  }
  throw new Error('expected a KeelError');
}

const weather = (url: string) => ({
  name: 'weather',
  description: 'the weather',
  parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] },
  http: { method: 'GET', url },
});

describe('the tools file', () => {
  it('names the line and column of a JSON syntax error', () => {
    const error = failure(() => parseToolsFile('{\n  "http": [\n    {,}\n  ]\n}', 'tools.json'));
    expect(error.code).toBe('TOOL_INVALID');
    expect(error.message).toMatch(/^tools\.json: .*line 3 column 6/);
  });

  it('names the JSON pointer of every bad value', () => {
    const error = failure(() =>
      parseToolsFile(
        JSON.stringify({
          http: [
            weather('https://x/{city}'),
            { ...weather('https://x'), name: 'other', http: { method: 'GET' } },
          ],
          mcp: [
            { name: 'files', transport: 'stdio' },
            { name: 'docs', transport: 'http', url: 'ftp://x' },
          ],
          extra: 1,
        }),
        'tools.json',
      ),
    );
    expect(error.details?.map((d) => d.field)).toEqual(['(root)']);
    const nested = failure(() =>
      parseToolsFile(
        JSON.stringify({
          http: [
            weather('https://x/{city}'),
            { ...weather('https://x'), name: 'other', http: { method: 'GET' } },
          ],
          mcp: [
            { name: 'files', transport: 'stdio' },
            { name: 'docs', transport: 'http', url: 'ftp://x' },
          ],
        }),
        'tools.json',
      ),
    );
    expect(nested.details?.map((d) => d.field)).toEqual(['/http/1/http', '/mcp/0', '/mcp/1/url']);
    expect(nested.message).toContain("/http/1/http must have required property 'url'");
    const twice = failure(() =>
      parseToolsFile(JSON.stringify({ http: [weather('https://x'), weather('https://y')] }), 't'),
    );
    expect(twice.message).toContain('the name weather is declared twice');
  });

  it('registers HTTP tools and MCP servers, and closes them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'keel-tools-'));
    const path = join(dir, 'tools.json');
    await writeFile(
      path,
      JSON.stringify({
        http: [weather(`${server.url}/echo/{city}`)],
        mcp: [mcpStdioServer('calc')],
      }),
    );
    const file = await loadToolsFile(path);
    expect(file.mcp[0]).toMatchObject({ transport: 'stdio', cwd: dir });
    const registry = new ToolRegistry();
    const configured = await registerToolsFile(registry, file, context, { path });
    try {
      expect(configured.tools).toEqual([
        'weather',
        'calc__add',
        'calc__slow',
        'calc__fail',
        'calc__stats',
      ]);
      expect(registry.get('weather')?.source).toBe('http');
    } finally {
      await configured.close();
    }
  });

  it('fails the boot with every bad tool and registers none', async () => {
    const registry = new ToolRegistry();
    const file = parseToolsFile(
      JSON.stringify({ http: [weather('https://api.example.com/{city}')] }),
      'tools.json',
    );
    await expect(
      registerToolsFile(registry, file, context, { path: 'tools.json' }),
    ).rejects.toThrow(
      /tools\.json: \/http\/0\/http\/url api\.example\.com is not in the allowed hosts/,
    );
    expect(registry.list()).toEqual([]);
  });
});
