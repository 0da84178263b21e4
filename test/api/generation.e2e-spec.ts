import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startKeel, type KeelServer } from '../support/keel-server.js';
import {
  startScriptedLlm,
  type ChatCompletionsBody,
  type ScriptedLlm,
} from '../support/llm-server.js';
import { sampleDocuments } from '../support/samples.js';

// Generated answers in /v1/query, over HTTP against the built app, with the scripted
// chat-completions test double (test/support/llm-server.ts) standing in for the LLM.

const MODEL = 'scripted-llama';
const QUERY = 'How does Keel size its worker pool in a container?';
const RETRIES = 1;

interface SseEvent {
  event: string;
  data: any;
}

function parseSse(text: string): SseEvent[] {
  return text
    .split('\n\n')
    .filter((block) => block.trim() !== '')
    .map((block) => {
      const lines = block.split('\n');
      const event = lines.find((l) => l.startsWith('event: '))?.slice(7) ?? 'message';
      const data = lines
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      return { event, data: JSON.parse(data) };
    });
}

describe('generated answers (the scripted LLM test double)', () => {
  let llm: ScriptedLlm;
  let keel: KeelServer;

  beforeAll(async () => {
    llm = await startScriptedLlm();
    keel = await startKeel({
      env: {
        LLM_URL: llm.url,
        LLM_MODEL: MODEL,
        LLM_MAX_RETRIES: String(RETRIES),
      },
    });
    expect((await keel.request('POST', '/v1/collections', { name: 'sample' })).status).toBe(201);
    const ingest = await keel.request('POST', '/v1/collections/sample/documents?wait=true', {
      documents: sampleDocuments(),
    });
    expect(ingest.status).toBe(200);
    expect(ingest.body.created).toBe(31);
  });

  afterAll(async () => {
    await keel?.dispose();
    await llm?.close();
  });

  it('answers from the LLM, with the packed passages in its prompt and its citations checked', async () => {
    let seen: ChatCompletionsBody | undefined;
    llm.push((request) => {
      seen = request;
      return {
        content: 'Keel reads the container CPU quota [1]; it never uses the host core count [9].',
        usage: { prompt_tokens: 812, completion_tokens: 21 },
      };
    });

    const res = await keel.request('POST', '/v1/query', { collection: 'sample', query: QUERY });

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body).toMatchObject({
      answer: 'Keel reads the container CPU quota [1]; it never uses the host core count [9].',
      mode: 'generated',
      unsupportedCitations: [9],
      usage: { promptTokens: 812, completionTokens: 21 },
      degraded: false,
    });
    expect(res.body.usage.estimated).toBeUndefined();
    expect(res.body.truncated).toBe(false);
    expect(res.body.contexts.length).toBeGreaterThan(1);
    expect(res.body.contexts.length).toBeLessThan(9);
    expect(res.body.citations).toEqual([
      {
        marker: 1,
        id: res.body.contexts[0].id,
        documentId: res.body.contexts[0].documentId,
        title: res.body.contexts[0].title,
      },
    ]);
    expect(res.body.contexts[0].documentId).toBe('keel-container-sizing');
    expect(res.body.timings.generate).toBeGreaterThanOrEqual(0);

    // What the LLM was asked: a system message, then the packed prompt with every passage under
    // its marker and the question.
    expect(seen).toBeDefined();
    expect(seen!.model).toBe(MODEL);
    expect(seen!.stream).toBeUndefined();
    expect(seen!.messages.map((m) => m.role)).toEqual(['system', 'user']);
    expect(seen!.messages[0].content).toMatch(/only the numbered passages.*\[n\]/s);
    const prompt = seen!.messages[1].content!;
    for (const context of res.body.contexts) {
      expect(prompt).toContain(`[${context.marker}] ${context.title}\n${context.text}`);
    }
    expect(prompt).toContain(QUERY);
  });

  it('answers extractively when the request says generate: false, without asking the LLM', async () => {
    const before = llm.requests.length;
    const res = await keel.request('POST', '/v1/query', {
      collection: 'sample',
      query: QUERY,
      generate: false,
    });
    expect(res.status).toBe(200);
    expect(res.body.mode).toBe('extractive');
    expect(res.body.usage.completionTokens).toBe(0);
    expect(res.body).not.toHaveProperty('unsupportedCitations');
    expect(res.body).not.toHaveProperty('truncated');
    expect(llm.requests.length).toBe(before);
  });

  it('says when the answer was cut off at the token limit, and still checks its citations', async () => {
    const cut = 'Keel reads the container CPU quota [1] and never the host core count [9], so the';
    llm.push({ content: cut, finishReason: 'length' });
    const res = await keel.request('POST', '/v1/query', { collection: 'sample', query: QUERY });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({
      answer: cut,
      mode: 'generated',
      truncated: true,
      unsupportedCitations: [9],
    });
    expect(res.body.citations.map((c: any) => c.marker)).toEqual([1]);

    // The stream's done event carries the whole answer, the flag with it.
    llm.push({ content: cut, finishReason: 'length' });
    const streamed = await keel.request(
      'POST',
      '/v1/query',
      { collection: 'sample', query: QUERY },
      { accept: 'text/event-stream' },
    );
    const done = parseSse(streamed.text).at(-1)!;
    expect(done.event).toBe('done');
    expect(done.data).toMatchObject({ answer: cut, truncated: true, unsupportedCitations: [9] });
  });

  it('streams with Accept: text/event-stream: contexts, several deltas, then done', async () => {
    llm.push({ content: 'The pool follows the CPU quota of the container [1] [2].' });

    const res = await keel.request(
      'POST',
      '/v1/query',
      { collection: 'sample', query: QUERY },
      { accept: 'text/event-stream' },
    );

    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const events = parseSse(res.text);
    expect(events[0].event).toBe('contexts');
    expect(events[0].data.contexts[0]).toMatchObject({
      marker: 1,
      documentId: 'keel-container-sizing',
    });
    const deltas = events.filter((e) => e.event === 'delta');
    expect(deltas.length).toBeGreaterThan(3);
    expect(events.slice(1, -1).every((e) => e.event === 'delta')).toBe(true);
    const done = events.at(-1)!;
    expect(done.event).toBe('done');
    expect(done.data).toMatchObject({
      mode: 'generated',
      answer: 'The pool follows the CPU quota of the container [1] [2].',
      unsupportedCitations: [],
      truncated: false,
    });
    expect(done.data.citations.map((c: any) => c.marker)).toEqual([1, 2]);
    expect(deltas.map((d) => d.data.text).join('')).toBe(done.data.answer);
    expect(done.data.contexts).toEqual(events[0].data.contexts);
    expect(llm.requests.at(-1)).toMatchObject({
      stream: true,
      stream_options: { include_usage: true },
    });
  });

  it('streams the extractive answer too (generate: false): contexts, one delta, done', async () => {
    const res = await keel.request(
      'POST',
      '/v1/query',
      { collection: 'sample', query: QUERY, generate: false },
      { accept: 'text/event-stream' },
    );
    const events = parseSse(res.text);
    expect(events.map((e) => e.event)).toEqual(['contexts', 'delta', 'done']);
    expect(events[1].data.text).toBe(events[2].data.answer);
    expect(events[2].data.mode).toBe('extractive');
  });

  it('stops the LLM when the client disconnects mid-stream', async () => {
    const before = llm.closedEarly;
    llm.push({
      content: Array.from({ length: 60 }, (_, i) => `word${i}`).join(' '),
      chunkDelayMs: 100,
    });
    const controller = new AbortController();
    const res = await fetch(`${keel.url}/v1/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify({ collection: 'sample', query: QUERY }),
      signal: controller.signal,
    });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    while (!text.includes('event: delta')) {
      const { value, done } = await reader.read();
      if (done) throw new Error('the stream ended before a delta');
      text += decoder.decode(value, { stream: true });
    }
    controller.abort();

    await llm.waitForClosedEarly(before + 1);
    // Keel is fine afterwards.
    expect((await keel.request('GET', '/health/ready')).status).toBe(200);
  });

  it('ends a stream that breaks after it began with an error event', async () => {
    llm.push({ content: 'one two three four five six seven eight', cutAfterChunks: 4 });
    const res = await keel.request(
      'POST',
      '/v1/query',
      { collection: 'sample', query: QUERY },
      { accept: 'text/event-stream' },
    );
    expect(res.status).toBe(200);
    const events = parseSse(res.text);
    expect(events[0].event).toBe('contexts');
    expect(events.some((e) => e.event === 'delta')).toBe(true);
    expect(events.some((e) => e.event === 'done')).toBe(false);
    expect(events.at(-1)).toEqual({
      event: 'error',
      data: {
        code: 'LLM_UNAVAILABLE',
        message: expect.stringMatching(/stream .* broke/),
        requestId: res.headers.get('x-request-id'),
      },
    });
  });

  it('fails with 503 LLM_UNAVAILABLE when the LLM stays unavailable past its retries', async () => {
    const before = llm.requests.length;
    llm.push(...Array.from({ length: RETRIES + 1 }, () => ({ status: 503 })));

    const res = await keel.request('POST', '/v1/query', { collection: 'sample', query: QUERY });

    expect(res.status).toBe(503);
    expect(res.body).toMatchObject({
      statusCode: 503,
      code: 'LLM_UNAVAILABLE',
      message: expect.stringMatching(/answered 503.*\(2 attempts\)/),
      requestId: expect.any(String),
    });
    expect(llm.requests.length - before).toBe(RETRIES + 1);
  });

  it('answers a stream request that cannot reach the LLM with the same 503 JSON error', async () => {
    llm.push(...Array.from({ length: RETRIES + 1 }, () => ({ status: 503 })));
    const res = await keel.request(
      'POST',
      '/v1/query',
      { collection: 'sample', query: QUERY },
      { accept: 'text/event-stream' },
    );
    expect(res.status).toBe(503);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(res.body.code).toBe('LLM_UNAVAILABLE');
  });
});
