import { KeelError } from '@keel/contracts/jobs';
import { describe, expect, it } from 'vitest';
import { fetchDocumentTool, searchCollectionTool } from './builtin.js';
import { ToolDispatcher } from './dispatcher.js';
import { ToolRegistry } from './registry.js';
import { renderToolOutcome } from './render.js';
import type { Tool } from './tool-types.js';

function tool(overrides: Partial<Tool> = {}): Tool {
  return {
    name: 'lookup',
    description: 'looks things up',
    source: 'builtin',
    parameters: { type: 'object', properties: { q: { type: 'string' } } },
    idempotent: true,
    timeoutMs: 1_000,
    maxConcurrency: 2,
    maxResultBytes: 1_024,
    invoke: () => Promise.resolve('ok'),
    ...overrides,
  };
}

function rejected(fn: () => void): KeelError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(KeelError);
    return error as KeelError;
  }
  throw new Error('expected a KeelError');
}

describe('ToolRegistry', () => {
  it('registers, lists descriptors only, gets and removes', () => {
    const registry = new ToolRegistry();
    registry.register(tool({ name: 'b_tool' }));
    registry.register(tool({ name: 'a-tool' }));
    const listed = registry.list();
    expect(listed.map((t) => t.name)).toEqual(['a-tool', 'b_tool']);
    expect(listed[0]).not.toHaveProperty('invoke');
    expect(registry.get('a-tool')?.name).toBe('a-tool');
    expect(registry.remove('a-tool')).toBe(true);
    expect(registry.remove('a-tool')).toBe(false);
    expect(registry.get('a-tool')).toBeUndefined();
  });

  it('refuses a taken name with TOOL_EXISTS', () => {
    const registry = new ToolRegistry();
    registry.register(tool());
    expect(rejected(() => registry.register(tool())).code).toBe('TOOL_EXISTS');
  });

  it.each([
    ['a name with a space', { name: 'has space' }, 'name'],
    ['a name of 65 characters', { name: 'x'.repeat(65) }, 'name'],
    ['no description', { description: ' ' }, 'description'],
    ['parameters that are not an object schema', { parameters: { type: 'string' } }, 'parameters'],
    ['a zero timeout', { timeoutMs: 0 }, 'timeoutMs'],
    ['a fractional concurrency', { maxConcurrency: 1.5 }, 'maxConcurrency'],
  ])('refuses %s with TOOL_INVALID', (_label, overrides, field) => {
    const error = rejected(() => new ToolRegistry().register(tool(overrides)));
    expect(error.code).toBe('TOOL_INVALID');
    expect(error.details?.map((d) => d.field)).toContain(field);
  });

  it('refuses a schema strict Ajv cannot compile, saying why', () => {
    const typo = rejected(() =>
      new ToolRegistry().register(
        tool({ parameters: { type: 'object', properties: { q: { type: 'strin' } } } }),
      ),
    );
    expect(typo.code).toBe('TOOL_INVALID');
    expect(typo.details?.[0]?.field).toBe('parameters');
    expect(typo.message).toMatch(/not a valid JSON Schema/);
    const unknownKeyword = rejected(() =>
      new ToolRegistry().register(tool({ result: { type: 'object', requried: ['x'] } })),
    );
    expect(unknownKeyword.details?.[0]).toMatchObject({ field: 'result' });
    expect(unknownKeyword.details?.[0]?.message).toMatch(/requried/);
  });

  it('accepts a draft-07 $schema as MCP servers send it', () => {
    const registry = new ToolRegistry();
    registry.register(
      tool({
        parameters: {
          $schema: 'http://json-schema.org/draft-07/schema#',
          type: 'object',
          properties: { when: { type: 'string', format: 'date-time' } },
        },
      }),
    );
    expect(registry.entry('lookup')?.validateArguments({ when: 'nope' })).toBe(false);
  });
});

describe('built-in tools', () => {
  it('search_collection defaults topK and bounds it; fetch_document passes its args', async () => {
    const seen: unknown[] = [];
    const registry = new ToolRegistry();
    registry.register(
      searchCollectionTool((args) => {
        seen.push(args);
        return Promise.resolve({ hits: [] });
      }),
    );
    registry.register(fetchDocumentTool((args) => Promise.resolve({ id: args.id, text: 'doc' })));
    const dispatcher = new ToolDispatcher(registry);
    const outcomes = await dispatcher.dispatch(
      [
        { id: '1', name: 'search_collection', arguments: '{"collection":"docs","query":"q"}' },
        {
          id: '2',
          name: 'search_collection',
          arguments: '{"collection":"docs","query":"q","topK":50}',
        },
        { id: '3', name: 'fetch_document', arguments: '{"collection":"docs","id":"d1"}' },
      ],
      { signal: new AbortController().signal, deadline: Date.now() + 5_000 },
    );
    expect(outcomes[0]).toMatchObject({ ok: true, result: { hits: [] } });
    expect(seen).toEqual([{ collection: 'docs', query: 'q', topK: 5 }]);
    expect(outcomes[1]).toMatchObject({ ok: false, error: { code: 'TOOL_ARGUMENTS_INVALID' } });
    expect(outcomes[2]).toMatchObject({ ok: true, result: { id: 'd1', text: 'doc' } });
    const rendered = JSON.parse(renderToolOutcome(outcomes[2]));
    expect(rendered).toEqual({
      type: 'tool_output',
      tool: 'fetch_document',
      untrusted: true,
      output: { id: 'd1', text: 'doc' },
    });
    expect(JSON.parse(renderToolOutcome(outcomes[1]))).toMatchObject({
      type: 'tool_error',
      code: 'TOOL_ARGUMENTS_INVALID',
    });
  });
});

describe('registerBuiltin', () => {
  it('lists the tool at once and compiles its schema on first use, defaults applied', () => {
    const registry = new ToolRegistry();
    registry.registerBuiltin(searchCollectionTool(() => Promise.resolve([])));
    expect(registry.list().map((t) => t.name)).toEqual(['search_collection']);
    expect(() => registry.registerBuiltin(searchCollectionTool(() => Promise.resolve([])))).toThrow(
      /already registered/,
    );
    const entry = registry.entry('search_collection')!;
    const args: Record<string, unknown> = { collection: 'c', query: 'q' };
    expect(entry.validateArguments(args)).toBe(true);
    expect(args.topK).toBe(5);
    expect(entry.validateArguments({ collection: 'c' })).toBe(false);
    expect(registry.entry('search_collection')).toBe(entry);
    expect(registry.remove('search_collection')).toBe(true);
    expect(registry.has('search_collection')).toBe(false);
  });
});
