// class-transformer's @Type needs the metadata polyfill that apps/cli/src/main.ts loads.
import 'reflect-metadata';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './keel-config.js';

const SERVER = { EMBEDDINGS_URL: 'http://embedder:8080', EMBEDDINGS_MODEL: 'bge-small' };

describe('the embeddings configuration', () => {
  it('is absent without EMBEDDINGS_URL', () => {
    expect(loadConfig({}).embeddings).toBeUndefined();
  });

  it('has bounded defaults for everything but the server', () => {
    expect(loadConfig(SERVER).embeddings).toEqual({
      url: 'http://embedder:8080',
      protocol: 'openai',
      model: 'bge-small',
      dimensions: undefined,
      batchSize: 32,
      maxConcurrency: 2,
      timeoutMs: 10_000,
      maxRetries: 3,
      apiKey: undefined,
      queryPrefix: undefined,
      documentPrefix: undefined,
    });
  });

  it('reads every variable', () => {
    const embeddings = loadConfig({
      ...SERVER,
      EMBEDDINGS_PROTOCOL: 'kserve',
      EMBEDDINGS_DIMENSIONS: '384',
      EMBEDDINGS_BATCH_SIZE: '64',
      EMBEDDINGS_CONCURRENCY: '4',
      EMBEDDINGS_TIMEOUT_MS: '2500',
      EMBEDDINGS_MAX_RETRIES: '0',
      EMBEDDINGS_API_KEY: 'sk-abc',
      EMBEDDINGS_QUERY_PREFIX: 'query: ',
      EMBEDDINGS_DOCUMENT_PREFIX: 'passage: ',
    }).embeddings;
    expect(embeddings).toMatchObject({
      protocol: 'kserve',
      dimensions: 384,
      batchSize: 64,
      maxConcurrency: 4,
      timeoutMs: 2_500,
      maxRetries: 0,
      apiKey: 'sk-abc',
      queryPrefix: 'query: ',
      documentPrefix: 'passage: ',
    });
  });

  it('lets TEI go without a model, not the others', () => {
    expect(
      loadConfig({ EMBEDDINGS_URL: 'http://tei', EMBEDDINGS_PROTOCOL: 'tei' }).embeddings?.model,
    ).toBeUndefined();
    expect(() => loadConfig({ EMBEDDINGS_URL: 'http://vllm:8000' })).toThrow(
      /EMBEDDINGS_MODEL is required/,
    );
    expect(() =>
      loadConfig({
        EMBEDDINGS_URL: 'http://ks',
        EMBEDDINGS_PROTOCOL: 'kserve',
        EMBEDDINGS_MODEL: '',
      }),
    ).toThrow(/EMBEDDINGS_MODEL is required/);
  });

  it.each([
    ['EMBEDDINGS_DIMENSIONS', '0'],
    ['EMBEDDINGS_DIMENSIONS', '1.5'],
    ['EMBEDDINGS_BATCH_SIZE', '0'],
    ['EMBEDDINGS_BATCH_SIZE', '5000'],
    ['EMBEDDINGS_CONCURRENCY', '0'],
    ['EMBEDDINGS_TIMEOUT_MS', '10'],
    ['EMBEDDINGS_TIMEOUT_MS', '999999999'],
    ['EMBEDDINGS_MAX_RETRIES', '-1'],
    ['EMBEDDINGS_MAX_RETRIES', '11'],
    ['EMBEDDINGS_PROTOCOL', 'grpc'],
    ['EMBEDDINGS_QUERY_PREFIX', 'x'.repeat(257)],
  ])('refuses %s=%s', (name, value) => {
    expect(() => loadConfig({ ...SERVER, [name]: value })).toThrow(ConfigError);
    expect(() => loadConfig({ ...SERVER, [name]: value })).toThrow(name);
  });

  it('reads the LLM settings, with a minute per attempt and two retries by default', () => {
    expect(loadConfig({}).llm).toBeUndefined();
    expect(loadConfig({ LLM_URL: 'http://vllm:8000/v1', LLM_MODEL: 'llama' }).llm).toEqual({
      url: 'http://vllm:8000/v1',
      model: 'llama',
      apiKey: undefined,
      timeoutMs: 60_000,
      maxRetries: 2,
    });
    expect(
      loadConfig({
        LLM_URL: 'http://vllm:8000',
        LLM_MODEL: 'llama',
        LLM_API_KEY: 'sk-llm',
        LLM_TIMEOUT_MS: '5000',
        LLM_MAX_RETRIES: '0',
      }).llm,
    ).toMatchObject({ apiKey: 'sk-llm', timeoutMs: 5_000, maxRetries: 0 });
  });

  it('requires LLM_MODEL with LLM_URL', () => {
    expect(() => loadConfig({ LLM_URL: 'http://vllm:8000' })).toThrow(
      /LLM_MODEL is required when LLM_URL is set/,
    );
    expect(() => loadConfig({ LLM_URL: 'http://vllm:8000', LLM_MODEL: '' })).toThrow(
      /LLM_MODEL is required/,
    );
  });

  it.each([
    ['LLM_TIMEOUT_MS', '10'],
    ['LLM_TIMEOUT_MS', '999999999'],
    ['LLM_MAX_RETRIES', '-1'],
    ['LLM_MAX_RETRIES', '11'],
  ])('refuses %s=%s', (name, value) => {
    const env = { LLM_URL: 'http://vllm:8000', LLM_MODEL: 'llama', [name]: value };
    expect(() => loadConfig(env)).toThrow(name);
  });

  it('never quotes the API key when it refuses a configuration', () => {
    let message = '';
    try {
      loadConfig({ ...SERVER, EMBEDDINGS_API_KEY: 'sk-live-999', EMBEDDINGS_BATCH_SIZE: '0' });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/EMBEDDINGS_BATCH_SIZE/);
    expect(message).not.toContain('sk-live-999');
  });
});

describe('the tools configuration', () => {
  it('allows no host and no private network by default, with bounded call limits', () => {
    expect(loadConfig({}).tools).toEqual({
      allowedHosts: [],
      allowPrivateNetworks: false,
      file: undefined,
      defaults: { timeoutMs: 10_000, maxConcurrency: 8, maxResultBytes: 256 * 1024 },
      dispatch: { maxRetries: 2, maxQueue: 4, breakerFailures: 5, halfOpenAfterMs: 30_000 },
    });
  });

  it('reads the allow-list, the private-network switch and the tools file', () => {
    const tools = loadConfig({
      KEEL_TOOL_ALLOWED_HOSTS: 'api.example.com, *.example.org,,',
      KEEL_TOOL_ALLOW_PRIVATE_NETWORKS: 'true',
      KEEL_TOOLS_FILE: 'tools.json',
      KEEL_TOOL_TIMEOUT_MS: '2500',
    }).tools;
    expect(tools.allowedHosts).toEqual(['api.example.com', '*.example.org']);
    expect(tools.allowPrivateNetworks).toBe(true);
    expect(tools.file).toMatch(/\/tools\.json$/);
    expect(tools.defaults.timeoutMs).toBe(2_500);
  });

  it.each([
    ['KEEL_TOOL_ALLOW_PRIVATE_NETWORKS', 'yes'],
    ['KEEL_TOOL_ALLOWED_HOSTS', 'https://api.example.com/'],
    ['KEEL_TOOL_TIMEOUT_MS', '0'],
    ['KEEL_TOOL_MAX_RESULT_BYTES', '10'],
  ])('refuses %s=%s', (name, value) => {
    expect(() => loadConfig({ [name]: value })).toThrow(ConfigError);
  });
});

describe('the agent configuration', () => {
  it('runs 16 async agent runs at once per process unless KEEL_AGENT_CONCURRENCY says', () => {
    expect(loadConfig({}).agent.concurrency).toBe(16);
    expect(loadConfig({ KEEL_AGENT_CONCURRENCY: '4' }).agent.concurrency).toBe(4);
  });

  it.each(['0', '1.5', '1025', 'many'])('refuses KEEL_AGENT_CONCURRENCY=%s', (value) => {
    expect(() => loadConfig({ KEEL_AGENT_CONCURRENCY: value })).toThrow(ConfigError);
    expect(() => loadConfig({ KEEL_AGENT_CONCURRENCY: value })).toThrow('KEEL_AGENT_CONCURRENCY');
  });

  it('gives a synchronous run a 15 s lease unless told otherwise, within bounds', () => {
    expect(loadConfig({}).agent.runLeaseMs).toBe(15_000);
    expect(loadConfig({ KEEL_AGENT_RUN_LEASE_MS: '3000' }).agent.runLeaseMs).toBe(3_000);
    for (const value of ['999', '600001', 'soon']) {
      expect(() => loadConfig({ KEEL_AGENT_RUN_LEASE_MS: value }), value).toThrow(
        /KEEL_AGENT_RUN_LEASE_MS/,
      );
    }
  });
});
