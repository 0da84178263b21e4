import { KeelError } from '@keel/contracts/jobs';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startToolServer, type ToolServer } from '../../../test/support/tool-server.js';
import { ToolDispatcher } from './dispatcher.js';
import { EgressPolicy, type EgressRules } from './egress.js';
import { GuardedHttp } from './http-request.js';
import { createHttpTool, parseHttpToolDeclaration, shownHttp } from './http-tool.js';
import { ToolRegistry } from './registry.js';
import type { SecretSource } from './secrets.js';
import type { ToolCallOutcome } from './tool-types.js';

let server: ToolServer;
const clients: GuardedHttp[] = [];

beforeAll(async () => {
  server = await startToolServer();
});
afterAll(async () => {
  for (const client of clients) client.close();
  await server.close();
});
beforeEach(() => server.reset());

function contextFor(rules: Partial<EgressRules> = {}, secrets: SecretSource = () => undefined) {
  const egress = new EgressPolicy({
    allowedHosts: ['127.0.0.1', 'localhost'],
    allowPrivateNetworks: true,
    ...rules,
  });
  const http = new GuardedHttp(egress);
  clients.push(http);
  return { egress, http, secrets };
}

function declaration(url: string, extra: Record<string, unknown> = {}) {
  return {
    name: 'probe',
    description: 'test tool',
    parameters: { type: 'object' },
    ...extra,
    http: { method: 'GET', url, ...((extra.http as object | undefined) ?? {}) },
  };
}

async function callOnce(
  context: ReturnType<typeof contextFor>,
  decl: unknown,
  args: unknown = {},
): Promise<ToolCallOutcome> {
  const registry = new ToolRegistry();
  registry.register(createHttpTool(decl, context));
  const dispatcher = new ToolDispatcher(registry, { maxRetries: 0 });
  const [outcome] = await dispatcher.dispatch(
    [{ id: 'c1', name: 'probe', arguments: JSON.stringify(args) }],
    { signal: new AbortController().signal, deadline: Date.now() + 5_000 },
  );
  return outcome;
}

function invalid(fn: () => unknown): KeelError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KeelError);
    expect((error as KeelError).code).toBe('TOOL_INVALID');
    return error as KeelError;
  }
  throw new Error('expected TOOL_INVALID');
}

function code(outcome: ToolCallOutcome): string | undefined {
  return outcome.ok ? undefined : outcome.error.code;
}

describe('HTTP tool requests', () => {
  it('expands {params} URL-encoded, sends the rest as the query of a GET', async () => {
    const outcome = await callOnce(
      contextFor(),
      declaration(`${server.url}/echo/{city}`, {
        parameters: {
          type: 'object',
          properties: {
            city: { type: 'string' },
            days: { type: 'integer' },
            tags: { type: 'array' },
          },
          required: ['city'],
        },
      }),
      { city: 'São Paulo/?x', days: 3, tags: ['a', 'b'] },
    );
    expect(outcome.ok).toBe(true);
    const result = (outcome as { result: any }).result;
    expect(result.path).toBe('/echo/S%C3%A3o%20Paulo%2F%3Fx');
    expect(result.query).toEqual({ days: '3', tags: 'b' });
    expect(server.requests[0]?.query).toEqual({ days: '3', tags: 'b' });
  });

  it('sends the arguments as a JSON body of a POST', async () => {
    const outcome = await callOnce(
      contextFor(),
      declaration(`${server.url}/echo`, { http: { method: 'POST' } }),
      { a: 1, b: ['x'] },
    );
    expect(outcome).toMatchObject({
      ok: true,
      result: { method: 'POST', body: { a: 1, b: ['x'] } },
    });
  });

  it('answers text as a string', async () => {
    const outcome = await callOnce(contextFor(), declaration(`${server.url}/text`));
    expect(outcome).toMatchObject({ ok: true, result: 'plain text answer' });
  });

  it('sends secrets read at call time and never shows them', async () => {
    const secrets: Record<string, string> = { TOKEN: 'Bearer s3cr3t-value' };
    const context = contextFor({}, (name) => secrets[name]);
    const ok = await callOnce(
      context,
      declaration(`${server.url}/echo`, {
        http: { headers: { Authorization: { secret: 'TOKEN' }, 'X-Plain': 'yes' } },
      }),
    );
    expect(server.requests[0]?.headers.authorization).toBe('Bearer s3cr3t-value');
    expect(server.requests[0]?.headers['x-plain']).toBe('yes');
    expect(ok.ok).toBe(true);
    // /echo answers with the headers it got: the result (the run's steps, the model's prompt)
    // carries the secret redacted, the plain header as it was.
    expect(ok).toMatchObject({
      result: { headers: { authorization: '[redacted]', 'x-plain': 'yes' } },
    });
    expect(JSON.stringify(ok)).not.toContain('s3cr3t');

    secrets.TOKEN = 'Bearer rotated-value';
    const failed = await callOnce(
      context,
      declaration(`${server.url}/status?code=500`, {
        http: { headers: { Authorization: { secret: 'TOKEN' } } },
      }),
    );
    expect(server.requests[1]?.headers.authorization).toBe('Bearer rotated-value');
    expect(code(failed)).toBe('TOOL_FAILED');
    const message = failed.ok ? '' : failed.error.message;
    expect(message).toMatch(/answered 500/);
    expect(message).not.toContain('rotated-value');
    expect(message).toContain('[redacted]');

    const tool = createHttpTool(
      declaration(`${server.url}/echo`, {
        http: { headers: { Authorization: { secret: 'TOKEN' } } },
      }),
      context,
    );
    const registry = new ToolRegistry();
    registry.register(tool);
    expect(JSON.stringify(registry.list())).not.toContain('rotated-value');
    expect(JSON.stringify(tool.declaration)).not.toContain('rotated-value');

    const missing = invalid(() =>
      createHttpTool(
        declaration(`${server.url}/echo`, {
          http: { headers: { Authorization: { secret: 'NOPE' } } },
        }),
        context,
      ),
    );
    expect(missing.details?.[0]?.message).toContain('KEEL_TOOL_SECRET_NOPE');
  });
});

describe('what is shown of an HTTP tool', () => {
  it('names its headers without their values: plain as ***, secrets by name', () => {
    const tool = createHttpTool(
      declaration(`${server.url}/echo`, {
        http: {
          headers: { Authorization: { secret: 'TOKEN' }, 'X-Api-Key': 'inline-key-0123456789' },
        },
      }),
      contextFor({}, (name) => (name === 'TOKEN' ? 'Bearer s3cr3t-value' : undefined)),
    );
    const shown = shownHttp(tool.declaration);
    expect(shown).toEqual({
      method: 'GET',
      url: `${server.url}/echo`,
      headers: { Authorization: { secret: 'TOKEN' }, 'X-Api-Key': '***' },
    });
    expect(JSON.stringify(shown)).not.toMatch(/inline-key|s3cr3t/);
    // The declaration itself still has what the call sends.
    expect(tool.declaration.http.headers?.['X-Api-Key']).toBe('inline-key-0123456789');
    expect(shownHttp(declaration('https://api.example.com/x') as never)).toEqual({
      method: 'GET',
      url: 'https://api.example.com/x',
    });
  });

  it('redacts a secret a JSON result echoes, escaped characters and all', async () => {
    const secret = 'Bearer tok"en\\with-escapes';
    const ok = await callOnce(
      contextFor({}, () => secret),
      declaration(`${server.url}/echo`, {
        http: { headers: { Authorization: { secret: 'TOKEN' }, Accept: 'application/json+x-1' } },
      }),
      { note: `the caller said ${secret}` },
    );
    expect(server.requests[0]?.headers.authorization).toBe(secret);
    expect(ok).toMatchObject({
      ok: true,
      result: {
        headers: { authorization: '[redacted]', accept: 'application/json+x-1' },
        query: { note: 'the caller said [redacted]' },
      },
    });
    expect(JSON.stringify(ok)).not.toContain('with-escapes');
  });

  it('scrubs a plain header value an error body echoes, as it does a secret', async () => {
    const failed = await callOnce(
      contextFor(),
      declaration(`${server.url}/status?code=401`, {
        http: { headers: { Authorization: 'Token inline-key-0123456789' } },
      }),
    );
    expect(server.requests[0]?.headers.authorization).toBe('Token inline-key-0123456789');
    const message = failed.ok ? '' : failed.error.message;
    expect(message).toMatch(/answered 401: status 401; authorization: \[redacted\]/);
    expect(message).not.toContain('inline-key');
  });
});

describe('HTTP tool declarations', () => {
  it('refuses malformed declarations with every problem in details', () => {
    const context = contextFor();
    const error = invalid(() =>
      createHttpTool(
        {
          name: 'bad name',
          description: '',
          parameters: { type: 'object', properties: { id: { type: 'string' } } },
          http: { method: 'PATCH', url: 'https://{host}.example.com/x/{id}' },
        },
        context,
      ),
    );
    const fields = error.details?.map((d) => d.field);
    expect(fields).toEqual(expect.arrayContaining(['/name', '/description', '/http/method']));

    const semantic = invalid(() =>
      createHttpTool(
        {
          name: 'x',
          description: 'd',
          parameters: { type: 'object', properties: { id: { type: 'string' } } },
          http: { method: 'GET', url: 'https://{host}.example.com/x/{id}' },
        },
        context,
      ),
    );
    expect(semantic.details?.map((d) => d.message)).toEqual(
      expect.arrayContaining([
        'placeholders may only appear in the path and query, not the host',
        '{id} must be a required property of parameters',
      ]),
    );
    invalid(() => parseHttpToolDeclaration(declaration('ftp://127.0.0.1/x')));
    invalid(() => parseHttpToolDeclaration(declaration('https://user:pw@127.0.0.1/x')));
    invalid(() => parseHttpToolDeclaration(declaration('/relative')));
  });
});

describe('egress rules', () => {
  it('refuses loopback by default, at registration and on the resolved address', async () => {
    const strict = contextFor({ allowPrivateNetworks: false });
    const literal = invalid(() => createHttpTool(declaration(`${server.url}/echo`), strict));
    expect(literal.details?.[0]?.message).toMatch(/loopback/);
    invalid(() =>
      createHttpTool(declaration(`http://[::ffff:127.0.0.1]:${server.port}/echo`), strict),
    );
    invalid(() => createHttpTool(declaration(`http://[::1]:${server.port}/echo`), strict));

    // A name passes registration (no DNS at boot) but its address is checked at connect.
    const named = await callOnce(strict, declaration(`http://localhost:${server.port}/echo`));
    expect(code(named)).toBe('TOOL_HOST_FORBIDDEN');
    expect(named.ok ? '' : named.error.message).toMatch(/localhost resolves to/);
    expect(server.count('/echo')).toBe(0);
  });

  it('allows private networks when told to', async () => {
    const open = contextFor({ allowPrivateNetworks: true });
    expect((await callOnce(open, declaration(`${server.url}/echo`))).ok).toBe(true);
    expect((await callOnce(open, declaration(`http://localhost:${server.port}/echo`))).ok).toBe(
      true,
    );
  });

  it('refuses hosts outside the allow-list', () => {
    const context = contextFor({ allowedHosts: ['api.example.com', '*.example.org'] });
    invalid(() => createHttpTool(declaration(`${server.url}/echo`), context));
    invalid(() => createHttpTool(declaration('https://example.org/x'), context));
    expect(() => createHttpTool(declaration('https://api.example.com/x'), context)).not.toThrow();
    expect(() => createHttpTool(declaration('https://a.b.example.org/x'), context)).not.toThrow();
    invalid(() =>
      createHttpTool(
        declaration('https://api.example.com.evil.net/x'),
        contextFor({ allowedHosts: ['api.example.com'] }),
      ),
    );
  });

  it('refuses the metadata address even with private networks allowed', () => {
    const context = contextFor({ allowedHosts: ['*'], allowPrivateNetworks: true });
    const error = invalid(() =>
      createHttpTool(declaration('http://169.254.169.254/latest/meta-data'), context),
    );
    expect(error.details?.[0]?.message).toMatch(/link-local/);
    invalid(() => createHttpTool(declaration('http://[fe80::1]/x'), context));
    invalid(() => createHttpTool(declaration('http://0.0.0.0/x'), context));
  });

  it('re-checks every redirect', async () => {
    const context = contextFor({ allowedHosts: ['127.0.0.1'], allowPrivateNetworks: true });
    const to = (target: string) =>
      declaration(`${server.url}/redirect?to=${encodeURIComponent(target)}`);
    const metadata = await callOnce(context, to('http://169.254.169.254/latest/meta-data'));
    expect(code(metadata)).toBe('TOOL_HOST_FORBIDDEN');
    const offList = await callOnce(context, to(`http://localhost:${server.port}/echo`));
    expect(code(offList)).toBe('TOOL_HOST_FORBIDDEN');
    expect(server.count('/echo')).toBe(0);

    const followed = await callOnce(context, to('/echo?via=redirect'));
    expect(followed).toMatchObject({
      ok: true,
      result: { path: '/echo', query: { via: 'redirect' } },
    });

    const loop = await callOnce(
      context,
      to('/redirect?to=/redirect%3Fto%3D/redirect%253Fto%253D/redirect'),
    );
    expect(code(loop)).toBe('TOOL_FAILED');
    expect(loop.ok ? '' : loop.error.message).toMatch(/more than 3 redirects/);
  });

  it('refuses a NAT64 or 6to4 literal of the metadata address at registration', () => {
    const context = contextFor({ allowedHosts: ['*'], allowPrivateNetworks: true });
    for (const host of [
      '[64:ff9b::169.254.169.254]',
      '[2002:a9fe:a9fe::1]',
      '[::ffff:0:a9fe:a9fe]',
    ]) {
      const error = invalid(() => createHttpTool(declaration(`http://${host}/latest`), context));
      expect(error.details?.[0]?.message, host).toMatch(/IPv4 169\.254\.169\.254.*link-local/);
    }
  });
});
