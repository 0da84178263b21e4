import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { KeelError } from '@keel/contracts/jobs';
import { afterEach, describe, expect, it } from 'vitest';
import {
  startScriptedLlm,
  type LlmScript,
  type ScriptedLlm,
} from '../../../test/support/llm-server.js';
import {
  chatEndpoint,
  createChatClient,
  type ChatClientConfig,
  type ChatRequest,
  type ChatStreamEvent,
} from './index.js';

// Every test talks HTTP to the scripted test double (test/support/llm-server.ts): real sockets,
// real status codes, real SSE framing and real connection closes; nothing here mocks fetch.

const MODEL = 'test-chat';
const KEY = 'sk-llm-secret-7d1e0b';

let llm: ScriptedLlm;

async function start(script: LlmScript = []): Promise<ScriptedLlm> {
  llm = await startScriptedLlm(script);
  return llm;
}

afterEach(async () => {
  await llm?.close();
});

function config(overrides: Partial<ChatClientConfig> = {}): ChatClientConfig {
  return {
    url: llm.url,
    model: MODEL,
    timeoutMs: 5_000,
    maxRetries: 2,
    retryBaseDelayMs: 10,
    retryMaxDelayMs: 50,
    ...overrides,
  };
}

const ASK: ChatRequest = {
  messages: [
    { role: 'system', content: 'Answer from the passages.' },
    { role: 'user', content: 'What does Keel scale on?' },
  ],
};

async function failure(promise: Promise<unknown>): Promise<KeelError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeelError);
  return error as KeelError;
}

async function collect(events: AsyncIterable<ChatStreamEvent>): Promise<ChatStreamEvent[]> {
  const out: ChatStreamEvent[] = [];
  for await (const event of events) out.push(event);
  return out;
}

describe('complete', () => {
  it('posts the request in wire format and returns the answer with the server usage', async () => {
    await start([
      { content: 'Queue depth [1].', usage: { prompt_tokens: 42, completion_tokens: 5 } },
    ]);
    const client = createChatClient(config());

    const completion = await client.complete(
      { ...ASK, maxTokens: 100, temperature: 0 },
      { deadline: Date.now() + 5_000 },
    );

    expect(completion).toEqual({
      model: MODEL,
      content: 'Queue depth [1].',
      toolCalls: [],
      finishReason: 'stop',
      usage: { promptTokens: 42, completionTokens: 5, estimated: false },
      attempts: 1,
    });
    expect(llm.requests).toEqual([
      {
        model: MODEL,
        messages: [
          { role: 'system', content: 'Answer from the passages.' },
          { role: 'user', content: 'What does Keel scale on?' },
        ],
        max_tokens: 100,
        temperature: 0,
      },
    ]);
  });

  it('maps tools, tool calls and tool results to the wire and back', async () => {
    await start([
      {
        toolCalls: [
          { id: 'call_a', name: 'search', arguments: { query: 'KEDA' } },
          { name: 'broken', arguments: '{"query": ' },
        ],
      },
    ]);
    const client = createChatClient(config());

    const completion = await client.complete(
      {
        messages: [
          { role: 'user', content: 'Find it' },
          {
            role: 'assistant',
            content: null,
            toolCalls: [{ id: 'call_0', name: 'search', arguments: '{"query":"x"}' }],
          },
          { role: 'tool', content: 'nothing found', toolCallId: 'call_0' },
        ],
        tools: [
          {
            name: 'search',
            description: 'Search the corpus',
            parameters: { type: 'object', properties: { query: { type: 'string' } } },
          },
        ],
      },
      {},
    );

    expect(completion.finishReason).toBe('tool_calls');
    expect(completion.content).toBeNull();
    expect(completion.toolCalls).toEqual([
      { id: 'call_a', name: 'search', arguments: '{"query":"KEDA"}' },
      // The model's raw text, invalid JSON included: parsing it is the caller's business.
      { id: 'call_1_2', name: 'broken', arguments: '{"query": ' },
    ]);
    const [sent] = llm.requests;
    expect(sent.messages[1]).toEqual({
      role: 'assistant',
      content: null,
      tool_calls: [
        {
          id: 'call_0',
          type: 'function',
          function: { name: 'search', arguments: '{"query":"x"}' },
        },
      ],
    });
    expect(sent.messages[2]).toEqual({
      role: 'tool',
      content: 'nothing found',
      tool_call_id: 'call_0',
    });
    expect(sent.tools).toEqual([
      {
        type: 'function',
        function: {
          name: 'search',
          description: 'Search the corpus',
          parameters: { type: 'object', properties: { query: { type: 'string' } } },
        },
      },
    ]);
    expect(sent.tool_choice).toBe('auto');
  });

  it('estimates usage with the tokenizer when the server sends none, and says so', async () => {
    await start([{ content: 'Queue depth.', usage: null }]);
    const completion = await createChatClient(config()).complete(ASK, {});
    expect(completion.usage.estimated).toBe(true);
    // "Queue depth." is 3 tokens in o200k_base; the prompt is two short messages plus framing.
    expect(completion.usage.completionTokens).toBe(3);
    expect(completion.usage.promptTokens).toBeGreaterThan(10);
    expect(completion.usage.promptTokens).toBeLessThan(30);
  });

  it('waits out a 429 Retry-After, then succeeds', async () => {
    await start([{ status: 429, retryAfterSeconds: 1 }, { content: 'ok' }]);
    const started = Date.now();

    const completion = await createChatClient(config()).complete(ASK, {
      deadline: Date.now() + 5_000,
    });

    expect(completion.content).toBe('ok');
    expect(completion.attempts).toBe(2);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
    expect(llm.requests).toHaveLength(2);
  });

  it('fails fast when Retry-After would pass the deadline', async () => {
    await start([{ status: 429, retryAfterSeconds: 30 }]);
    const error = await failure(
      createChatClient(config()).complete(ASK, { deadline: Date.now() + 2_000 }),
    );
    expect(error.code).toBe('LLM_UNAVAILABLE');
    expect(error.message).toMatch(/429.*pass the deadline/);
    expect(error.retryAfterSeconds).toBe(30);
    expect(llm.requests).toHaveLength(1);
  });

  it('gives up on 503 after maxRetries with LLM_UNAVAILABLE', async () => {
    await start([{ status: 503 }, { status: 503 }, { status: 503 }]);
    const error = await failure(createChatClient(config({ maxRetries: 2 })).complete(ASK, {}));
    expect(error.code).toBe('LLM_UNAVAILABLE');
    expect(error.status).toBe(503);
    expect(error.message).toMatch(/answered 503.*\(3 attempts\)/);
    expect(llm.requests).toHaveLength(3);
  });

  it('does not retry a 400: LLM_REJECTED with the server reason', async () => {
    await start([{ status: 400 }, { content: 'never sent' }]);
    const error = await failure(createChatClient(config()).complete(ASK, {}));
    expect(error.code).toBe('LLM_REJECTED');
    expect(error.status).toBe(502);
    expect(error.message).toMatch(/refused the request: 400.*scripted LLM: status 400/);
    expect(llm.requests).toHaveLength(1);
  });

  it('retries an attempt that timed out', async () => {
    await start([{ hang: true }, { content: 'second time' }]);
    const completion = await createChatClient(config({ timeoutMs: 150 })).complete(ASK, {});
    expect(completion).toMatchObject({ content: 'second time', attempts: 2 });
    await llm.waitForClosedEarly(1);
  });

  it('stops at the deadline with DEADLINE_EXCEEDED and hangs up', async () => {
    await start([{ hang: true }]);
    const started = Date.now();
    const error = await failure(
      createChatClient(config()).complete(ASK, { deadline: Date.now() + 200 }),
    );
    expect(error.code).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - started).toBeLessThan(1_000);
    await llm.waitForClosedEarly(1);
  });

  it('is cancelled by its signal at the socket: CANCELLED, and the server sees the close', async () => {
    await start([{ hang: true }]);
    const controller = new AbortController();
    const pending = createChatClient(config()).complete(ASK, { signal: controller.signal });
    await new Promise((r) => setTimeout(r, 100));
    controller.abort();
    const error = await failure(pending);
    expect(error.code).toBe('CANCELLED');
    await llm.waitForClosedEarly(1);
  });

  it('answers LLM_INVALID for a 200 without choices', async () => {
    await start([]);
    const raw = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end('{"error":{"message":"model overloaded"}}');
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    try {
      const { port } = raw.address() as AddressInfo;
      const client = createChatClient(config({ url: `http://127.0.0.1:${port}` }));
      const error = await failure(client.complete(ASK, {}));
      expect(error.code).toBe('LLM_INVALID');
      expect(error.message).toMatch(/no choices: model overloaded/);
    } finally {
      raw.close();
    }
  });

  it('sends the API key as a bearer token and never puts it in an error message', async () => {
    await start([]);
    const seen: Array<string | undefined> = [];
    const raw = createServer((req, res) => {
      seen.push(req.headers.authorization);
      res.statusCode = 401;
      res.end(`{"error":{"message":"Incorrect API key provided: ${req.headers.authorization}"}}`);
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    try {
      const { port } = raw.address() as AddressInfo;
      const client = createChatClient(config({ url: `http://127.0.0.1:${port}/v1`, apiKey: KEY }));
      const error = await failure(client.complete(ASK, {}));
      expect(seen).toEqual([`Bearer ${KEY}`]);
      expect(error.code).toBe('LLM_REJECTED');
      expect(error.message).toContain('Bearer [redacted]');
      expect(error.message).not.toContain(KEY);
      expect(JSON.stringify(client)).not.toContain(KEY);
    } finally {
      raw.close();
    }
  });

  it('fails loudly when the script runs out (the double answers 500)', async () => {
    await start([]);
    const error = await failure(createChatClient(config()).complete(ASK, {}));
    expect(error.code).toBe('LLM_UNAVAILABLE');
    expect(error.message).toMatch(/script ran out/);
  });
});

describe('stream', () => {
  it('yields text deltas, then one done with the whole completion and the usage', async () => {
    await start([
      {
        content: 'KEDA scales workers on queue depth [2].',
        usage: { prompt_tokens: 7, completion_tokens: 9 },
      },
    ]);
    const events = await collect(createChatClient(config()).stream(ASK, {}));

    const deltas = events.filter((e) => e.type === 'delta');
    expect(deltas.length).toBeGreaterThan(3);
    expect(deltas.map((d) => d.text).join('')).toBe('KEDA scales workers on queue depth [2].');
    expect(events.at(-1)).toEqual({
      type: 'done',
      completion: {
        model: MODEL,
        content: 'KEDA scales workers on queue depth [2].',
        toolCalls: [],
        finishReason: 'stop',
        usage: { promptTokens: 7, completionTokens: 9, estimated: false },
        attempts: 1,
      },
    });
    expect(events.filter((e) => e.type === 'done')).toHaveLength(1);
    expect(llm.requests[0]).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
    expect(llm.closedEarly).toBe(0);
  });

  it('assembles tool calls from their pieces, by index', async () => {
    await start([
      {
        content: 'Let me look.',
        toolCalls: [
          { id: 'call_x', name: 'search', arguments: { query: 'vitamin D and cancer risk' } },
          { id: 'call_y', name: 'fetch', arguments: { id: 'doc-12', full: true } },
        ],
      },
    ]);
    const events = await collect(
      createChatClient(config()).stream(
        { ...ASK, tools: [{ name: 'search', description: 'Search', parameters: {} }] },
        {},
      ),
    );
    const done = events.at(-1);
    expect(done?.type).toBe('done');
    if (done?.type !== 'done') return;
    expect(done.completion.finishReason).toBe('tool_calls');
    expect(done.completion.content).toBe('Let me look.');
    expect(done.completion.toolCalls).toEqual([
      { id: 'call_x', name: 'search', arguments: '{"query":"vitamin D and cancer risk"}' },
      { id: 'call_y', name: 'fetch', arguments: '{"id":"doc-12","full":true}' },
    ]);
  });

  it('retries before the first byte (503), never after', async () => {
    await start([{ status: 503 }, { content: 'second try' }]);
    const events = await collect(createChatClient(config()).stream(ASK, {}));
    const done = events.at(-1);
    expect(done).toMatchObject({
      type: 'done',
      completion: { content: 'second try', attempts: 2 },
    });
  });

  it('fails with LLM_UNAVAILABLE when the stream is cut midway, after the deltas it had', async () => {
    await start([{ content: 'one two three four five six seven', cutAfterChunks: 3 }]);
    const seen: string[] = [];
    const error = await failure(
      (async () => {
        for await (const event of createChatClient(config()).stream(ASK, {})) {
          if (event.type === 'delta') seen.push(event.text);
        }
      })(),
    );
    expect(error.code).toBe('LLM_UNAVAILABLE');
    expect(error.message).toMatch(/stream .* broke after \d+ bytes/);
    expect(seen.join('')).toBe('one two');
    // Not retried: the answer had begun.
    expect(llm.requests).toHaveLength(1);
  });

  it('estimates usage when the stream carries none', async () => {
    await start([{ content: 'Queue depth.', usage: null }]);
    const events = await collect(createChatClient(config()).stream(ASK, {}));
    expect(events.at(-1)).toMatchObject({
      type: 'done',
      completion: { usage: { completionTokens: 3, estimated: true } },
    });
  });

  it('is cancelled mid-stream by its signal: CANCELLED, and the server sees the close', async () => {
    await start([{ content: 'a b c d e f g h i j k l m n o p', chunkDelayMs: 100 }]);
    const controller = new AbortController();
    const error = await failure(
      (async () => {
        for await (const event of createChatClient(config()).stream(ASK, {
          signal: controller.signal,
        })) {
          if (event.type === 'delta') controller.abort();
        }
      })(),
    );
    expect(error.code).toBe('CANCELLED');
    await llm.waitForClosedEarly(1);
  });

  it('hangs up when the consumer stops reading', async () => {
    await start([{ content: 'a b c d e f g h i j k l m n o p', chunkDelayMs: 100 }]);
    for await (const event of createChatClient(config()).stream(ASK, {})) {
      if (event.type === 'delta') break;
    }
    await llm.waitForClosedEarly(1);
  });

  it('takes one JSON completion from a server that ignores stream: true', async () => {
    await start([]);
    const raw = createServer((_req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          model: 'other',
          choices: [{ message: { role: 'assistant', content: 'whole' }, finish_reason: 'stop' }],
          usage: { prompt_tokens: 4, completion_tokens: 1 },
        }),
      );
    });
    await new Promise<void>((r) => raw.listen(0, '127.0.0.1', r));
    try {
      const { port } = raw.address() as AddressInfo;
      const client = createChatClient(config({ url: `http://127.0.0.1:${port}` }));
      const events = await collect(client.stream(ASK, {}));
      expect(events).toEqual([
        { type: 'delta', text: 'whole' },
        {
          type: 'done',
          completion: expect.objectContaining({
            model: 'other',
            content: 'whole',
            usage: { promptTokens: 4, completionTokens: 1, estimated: false },
          }),
        },
      ]);
    } finally {
      raw.close();
    }
  });

  it('stops a slow stream at the deadline with DEADLINE_EXCEEDED', async () => {
    await start([{ content: 'a b c d e f g h i j k l m n o p', chunkDelayMs: 100 }]);
    const error = await failure(
      collect(createChatClient(config()).stream(ASK, { deadline: Date.now() + 350 })),
    );
    expect(error.code).toBe('DEADLINE_EXCEEDED');
    await llm.waitForClosedEarly(1);
  });
});

describe('the endpoint', () => {
  it.each([
    ['http://llm:8000', 'http://llm:8000/v1/chat/completions'],
    ['http://llm:8000/', 'http://llm:8000/v1/chat/completions'],
    ['http://llm:8000/v1', 'http://llm:8000/v1/chat/completions'],
    ['http://llm:8000/v1/', 'http://llm:8000/v1/chat/completions'],
    ['http://llm:8000/openai/v1/chat/completions', 'http://llm:8000/openai/v1/chat/completions'],
    ['https://proxy/serving/llama', 'https://proxy/serving/llama/v1/chat/completions'],
  ])('%s → %s', (url, endpoint) => {
    expect(chatEndpoint(url).href).toBe(endpoint);
  });

  it.each([
    [{ url: 'not a url' }, /not a URL/],
    [{ url: 'ftp://llm' }, /http or https/],
    [{ url: 'http://user:pw@llm' }, /credentials/],
    [{ model: '' }, /model/],
    [{ timeoutMs: 0 }, /timeoutMs/],
    [{ maxRetries: -1 }, /maxRetries/],
  ])('refuses %o', async (overrides, message) => {
    await start([]);
    expect(() => createChatClient(config(overrides))).toThrow(message);
  });
});
