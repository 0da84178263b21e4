import { inspect } from 'node:util';
import { KeelError } from '@keel/contracts/jobs';
import type { KeelConfig } from '@keel/platform';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  hashEmbedding,
  startEmbeddingServer,
  type EmbeddingServer,
} from '../../../test/support/embedding-server.js';
import { createEmbeddingClient, type EmbeddingClientConfig } from './index.js';

// Every test talks HTTP to the test double (test/support/embedding-server.ts): real sockets, real
// status codes and headers, real connection closes; nothing here mocks fetch.

const MODEL = 'test-embed';
const KEY = 'sk-test-secret-4f9a2c';

const TEXTS = [
  'Vitamin D deficiency increases the risk of cancer',
  'Keel sizes its worker pool from the container CPU quota',
  'BM25 ranks documents by term frequency and inverse document frequency',
  'Kubernetes scales worker deployments on queue depth with KEDA',
  'Cancer risk and vitamin supplements in older adults',
];

let server: EmbeddingServer;

function config(overrides: Partial<EmbeddingClientConfig> = {}): EmbeddingClientConfig {
  return {
    url: server.url,
    protocol: 'openai',
    model: MODEL,
    batchSize: 32,
    timeoutMs: 5_000,
    maxRetries: 3,
    retryBaseDelayMs: 10,
    retryMaxDelayMs: 50,
    ...overrides,
  };
}

async function until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function failure(promise: Promise<unknown>): Promise<KeelError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(KeelError);
  return error as KeelError;
}

function dot(a: number[], b: number[]): number {
  return a.reduce((s, x, i) => s + x * b[i], 0);
}

function expectVectorsClose(actual: number[][], expected: number[][]): void {
  expect(actual).toHaveLength(expected.length);
  actual.forEach((vector, i) => {
    expect(vector).toHaveLength(expected[i].length);
    // Same direction and unit length: the dot product of unit vectors is 1.
    expect(dot(vector, expected[i])).toBeCloseTo(1, 6);
  });
}

beforeAll(async () => {
  server = await startEmbeddingServer({ model: MODEL });
});
afterEach(() => server.reset());
afterAll(() => server.close());

describe.each(['openai', 'tei', 'kserve'] as const)('the %s protocol', (protocol) => {
  it('embeds every text on the protocol path, in order, one unit vector each', async () => {
    const client = createEmbeddingClient(config({ protocol }));
    expect(client.protocol).toBe(protocol);
    expect(client.dimensions).toBeUndefined();

    const vectors = await client.embed(TEXTS, { purpose: 'document' });

    expectVectorsClose(
      vectors,
      TEXTS.map((t) => hashEmbedding(t)),
    );
    expect(client.dimensions).toBe(64);
    expect(server.requests).toHaveLength(1);
    const [request] = server.requests;
    expect(request.protocol).toBe(protocol);
    expect(request.path).toBe(
      { openai: '/v1/embeddings', tei: '/embed', kserve: `/v2/models/${MODEL}/infer` }[protocol],
    );
    expect(request.texts).toEqual(TEXTS);
    expect(request.status).toBe(200);
    if (protocol !== 'tei') expect(request.model).toBe(MODEL);
  });

  it('takes the URL with a trailing slash too', async () => {
    const client = createEmbeddingClient(config({ protocol, url: `${server.url}/` }));
    await client.embed(['one'], { purpose: 'query' });
    expect(server.requests[0].status).toBe(200);
  });
});

describe('batching', () => {
  it('splits into batches of batchSize and keeps the order of the texts', async () => {
    const texts = Array.from({ length: 11 }, (_, i) => `${TEXTS[i % TEXTS.length]} number ${i}`);
    const client = createEmbeddingClient(config({ protocol: 'tei', batchSize: 3 }));

    const vectors = await client.embed(texts, { purpose: 'document' });

    expectVectorsClose(
      vectors,
      texts.map((t) => hashEmbedding(t)),
    );
    expect(server.requests.map((r) => r.texts.length).sort()).toEqual([2, 3, 3, 3]);
    // Each text went exactly once, in its batch's order.
    expect(server.requests.flatMap((r) => r.texts).sort()).toEqual([...texts].sort());
    for (const request of server.requests) {
      const first = texts.indexOf(request.texts[0]);
      expect(request.texts).toEqual(texts.slice(first, first + request.texts.length));
    }
  });

  it.each([
    [undefined, 2],
    [3, 3],
    [1, 1],
  ])('sends at most maxConcurrency=%s batches at once (%i)', async (maxConcurrency, bound) => {
    server.faults.delay(150);
    const client = createEmbeddingClient(config({ batchSize: 1, maxConcurrency }));

    const vectors = await client.embed(TEXTS.concat(TEXTS), { purpose: 'document' });

    expect(vectors).toHaveLength(10);
    expect(server.requests).toHaveLength(10);
    expect(server.maxInFlight).toBe(bound);
  });

  it('makes no request for no texts', async () => {
    const client = createEmbeddingClient(config());
    expect(await client.embed([], { purpose: 'query' })).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });

  it('prefixes queries and documents with the configured instructions only', async () => {
    const client = createEmbeddingClient(
      config({ queryPrefix: 'query: ', documentPrefix: 'passage: ' }),
    );
    await client.embed(['a question'], { purpose: 'query' });
    await client.embed(['a passage'], { purpose: 'document' });
    await createEmbeddingClient(config()).embed(['plain'], { purpose: 'query' });
    expect(server.requests.map((r) => r.texts)).toEqual([
      ['query: a question'],
      ['passage: a passage'],
      ['plain'],
    ]);
  });
});

describe('retries', () => {
  it('retries a 429 after its Retry-After seconds', async () => {
    server.faults.rateLimit(1, '1');
    const client = createEmbeddingClient(config());
    const started = Date.now();

    const vectors = await client.embed(TEXTS, { purpose: 'document' });

    expect(vectors).toHaveLength(TEXTS.length);
    expect(server.requests.map((r) => r.status)).toEqual([429, 200]);
    expect(server.requests[1].at - server.requests[0].at).toBeGreaterThanOrEqual(950);
    expect(Date.now() - started).toBeGreaterThanOrEqual(950);
  });

  it('retries a 429 whose Retry-After is an HTTP date', async () => {
    server.faults.rateLimit(1, new Date(Date.now() + 2_000).toUTCString());
    const client = createEmbeddingClient(config());

    await client.embed(TEXTS, { purpose: 'document' });

    expect(server.requests.map((r) => r.status)).toEqual([429, 200]);
    // The date has whole seconds: between 1 and 2 s from the first answer.
    expect(server.requests[1].at - server.requests[0].at).toBeGreaterThanOrEqual(900);
  });

  it('fails at once when Retry-After would end past the deadline, passing the wait on', async () => {
    server.faults.rateLimit(1, '30');
    const client = createEmbeddingClient(config());
    const started = Date.now();

    const error = await failure(
      client.embed(TEXTS, { purpose: 'document', deadline: Date.now() + 3_000 }),
    );

    expect(error.code).toBe('EMBEDDINGS_UNAVAILABLE');
    expect(error.status).toBe(503);
    expect(error.retryAfterSeconds).toBe(30);
    expect(error.message).toMatch(/429.*pass the deadline/);
    expect(server.requests).toHaveLength(1);
    expect(Date.now() - started).toBeLessThan(2_500);
  });

  it('retries 503 with back-off until it answers', async () => {
    server.faults.unavailable(2);
    const client = createEmbeddingClient(config());

    await client.embed(TEXTS, { purpose: 'document' });

    expect(server.requests.map((r) => r.status)).toEqual([503, 503, 200]);
  });

  it('gives up after maxRetries retries with EMBEDDINGS_UNAVAILABLE', async () => {
    server.faults.unavailable(10);
    const client = createEmbeddingClient(config({ maxRetries: 2 }));

    const error = await failure(client.embed(TEXTS, { purpose: 'document' }));

    expect(error.code).toBe('EMBEDDINGS_UNAVAILABLE');
    expect(error.message).toMatch(/answered 503.*\(3 attempts\)/);
    expect(server.requests).toHaveLength(3);
  });

  it('does not retry a 400 (EMBEDDINGS_REJECTED, with the server reason)', async () => {
    server.faults.status(400, 5, { body: '{"error":"input too long"}' });
    const client = createEmbeddingClient(config());

    const error = await failure(client.embed(TEXTS, { purpose: 'document' }));

    expect(error.code).toBe('EMBEDDINGS_REJECTED');
    expect(error.status).toBe(502);
    expect(error.message).toMatch(/400.*input too long/);
    expect(server.requests).toHaveLength(1);
  });

  it('does not retry a 500', async () => {
    server.faults.status(500, 5);
    const error = await failure(
      createEmbeddingClient(config()).embed(TEXTS, { purpose: 'document' }),
    );
    expect(error.code).toBe('EMBEDDINGS_UNAVAILABLE');
    expect(server.requests).toHaveLength(1);
  });

  it('retries a dropped connection', async () => {
    server.faults.dropConnection(2);
    const vectors = await createEmbeddingClient(config()).embed(TEXTS, { purpose: 'document' });
    expect(vectors).toHaveLength(TEXTS.length);
    expect(server.requests).toHaveLength(3);
  });

  it('reports a server that is not there as EMBEDDINGS_UNAVAILABLE', async () => {
    const gone = await startEmbeddingServer();
    await gone.close();
    const client = createEmbeddingClient(config({ url: gone.url, maxRetries: 1 }));

    const error = await failure(client.embed(TEXTS, { purpose: 'document' }));

    expect(error.code).toBe('EMBEDDINGS_UNAVAILABLE');
    expect(error.message).toMatch(/could not reach .*ECONNREFUSED.*\(2 attempts\)/);
  });

  it('retries an attempt that ran past timeoutMs, then gives up', async () => {
    server.faults.delay(5_000);
    const client = createEmbeddingClient(config({ timeoutMs: 200, maxRetries: 1 }));

    const error = await failure(client.embed(TEXTS, { purpose: 'document' }));

    expect(error.code).toBe('EMBEDDINGS_UNAVAILABLE');
    expect(error.message).toMatch(/did not answer within 200 ms/);
    expect(server.requests).toHaveLength(2);
    await until(() => server.requests.every((r) => r.clientClosed));
  });
});

describe('deadlines and cancellation', () => {
  it('stops at the deadline with DEADLINE_EXCEEDED and closes the connection', async () => {
    server.faults.delay(5_000);
    const client = createEmbeddingClient(config());
    const started = Date.now();

    const error = await failure(
      client.embed(TEXTS, { purpose: 'document', deadline: Date.now() + 300 }),
    );

    expect(error.code).toBe('DEADLINE_EXCEEDED');
    expect(Date.now() - started).toBeLessThan(3_000);
    expect(server.requests).toHaveLength(1);
    await until(() => server.requests[0].clientClosed);
  });

  it('refuses a deadline already past, without a request', async () => {
    const error = await failure(
      createEmbeddingClient(config()).embed(TEXTS, {
        purpose: 'document',
        deadline: Date.now() - 1,
      }),
    );
    expect(error.code).toBe('DEADLINE_EXCEEDED');
    expect(server.requests).toHaveLength(0);
  });

  it('rejects at once when the caller aborts, and aborts every batch in flight', async () => {
    server.faults.delay(5_000);
    const client = createEmbeddingClient(config({ batchSize: 1, maxConcurrency: 2 }));
    const controller = new AbortController();
    const started = Date.now();

    const call = failure(client.embed(TEXTS, { purpose: 'document', signal: controller.signal }));
    await until(() => server.requests.length === 2);
    controller.abort();
    const error = await call;

    expect(error.code).toBe('CANCELLED');
    expect(Date.now() - started).toBeLessThan(3_000);
    await until(() => server.requests.every((r) => r.clientClosed));
    // The batches not yet sent never are.
    await new Promise((r) => setTimeout(r, 100));
    expect(server.requests).toHaveLength(2);
  });

  it('aborts the batches in flight when one fails', async () => {
    server.faults.delay(5_000).status(400, 1, { delayMs: 0 });
    const client = createEmbeddingClient(config({ batchSize: 1, maxConcurrency: 2 }));
    const started = Date.now();

    const error = await failure(client.embed(TEXTS, { purpose: 'document' }));

    expect(error.code).toBe('EMBEDDINGS_REJECTED');
    expect(Date.now() - started).toBeLessThan(3_000);
    await until(() => server.requests.length === 2 && server.requests[1].clientClosed);
    await new Promise((r) => setTimeout(r, 100));
    expect(server.requests).toHaveLength(2);
  });

  it("gives the caller's KeelError reason back", async () => {
    const controller = new AbortController();
    controller.abort(new KeelError('DEADLINE_EXCEEDED', 'the request ran out of time'));
    const error = await failure(
      createEmbeddingClient(config()).embed(TEXTS, {
        purpose: 'query',
        signal: controller.signal,
      }),
    );
    expect(error.message).toBe('the request ran out of time');
    expect(server.requests).toHaveLength(0);
  });

  it('stops waiting out a Retry-After when the caller aborts', async () => {
    server.faults.rateLimit(1, '30');
    const client = createEmbeddingClient(config());
    const controller = new AbortController();
    const started = Date.now();

    const call = failure(client.embed(TEXTS, { purpose: 'document', signal: controller.signal }));
    await until(() => server.requests[0]?.status === 429);
    controller.abort();
    const error = await call;

    expect(error.code).toBe('CANCELLED');
    expect(Date.now() - started).toBeLessThan(5_000);
    expect(server.requests).toHaveLength(1);
  });
});

describe('checks of the answer', () => {
  it('fails on a response of another dimension than configured', async () => {
    const client = createEmbeddingClient(config({ dimensions: 32 }));
    expect(client.dimensions).toBe(32);

    const error = await failure(client.embed(TEXTS, { purpose: 'document' }));

    expect(error.code).toBe('EMBEDDINGS_INVALID');
    expect(error.status).toBe(502);
    expect(error.details).toEqual([{ field: 'dimensions', message: expect.stringMatching(/64/) }]);
    expect(client.dimensions).toBe(32);
  });

  it.each(['openai', 'tei', 'kserve'] as const)(
    '%s: holds later responses to the first one’s dimension',
    async (protocol) => {
      const client = createEmbeddingClient(config({ protocol }));
      await client.embed(TEXTS, { purpose: 'document' });
      expect(client.dimensions).toBe(64);

      server.faults.wrongDimensions(65);
      const error = await failure(client.embed(TEXTS, { purpose: 'document' }));

      expect(error.code).toBe('EMBEDDINGS_INVALID');
      expect(error.message).toMatch(/65 dimensions, expected 64/);
      expect(client.dimensions).toBe(64);
    },
  );

  it.each(['openai', 'tei'] as const)(
    '%s: fails when the vectors of one response differ in length',
    async (protocol) => {
      server.faults.ragged();
      const error = await failure(
        createEmbeddingClient(config({ protocol })).embed(TEXTS, { purpose: 'document' }),
      );
      expect(error.code).toBe('EMBEDDINGS_INVALID');
    },
  );

  it.each([
    ['garbage JSON', (s: EmbeddingServer) => s.faults.garbage(), /invalid JSON/],
    ['a non-finite value', (s: EmbeddingServer) => s.faults.nonFinite(), /not a finite number/],
    ['a zero vector', (s: EmbeddingServer) => s.faults.zeroVector(), /all zeros/],
  ])('fails on %s without retrying', async (_name, inject, message) => {
    inject(server);
    const error = await failure(
      createEmbeddingClient(config()).embed(TEXTS, { purpose: 'document' }),
    );
    expect(error.code).toBe('EMBEDDINGS_INVALID');
    expect(error.message).toMatch(message);
    expect(server.requests).toHaveLength(1);
  });

  it('L2-normalises what a server sends unnormalised', async () => {
    const loud = await startEmbeddingServer({ scale: 3.5, dimensions: 16 });
    try {
      for (const protocol of ['openai', 'tei', 'kserve'] as const) {
        const client = createEmbeddingClient(config({ url: loud.url, protocol }));
        const vectors = await client.embed(TEXTS, { purpose: 'document' });
        for (const [i, vector] of vectors.entries()) {
          expect(Math.hypot(...vector)).toBeCloseTo(1, 12);
          expect(dot(vector, hashEmbedding(TEXTS[i], 16))).toBeCloseTo(1, 9);
        }
      }
    } finally {
      await loud.close();
    }
  });

  it("the double's vectors rank texts that share words above those that do not", async () => {
    const client = createEmbeddingClient(config({ protocol: 'tei' }));
    const [query] = await client.embed(['vitamin D and cancer risk'], { purpose: 'query' });
    const docs = await client.embed(TEXTS, { purpose: 'document' });
    const scores = docs.map((d) => dot(query, d));
    const best = [...scores.keys()].sort((a, b) => scores[b] - scores[a]);
    expect(best.slice(0, 2).sort()).toEqual([0, 4]);
  });
});

describe('the API key', () => {
  let locked: EmbeddingServer;
  beforeAll(async () => {
    locked = await startEmbeddingServer({ apiKey: KEY });
  });
  afterAll(() => locked.close());

  it.each(['openai', 'tei', 'kserve'] as const)(
    '%s: is sent as a bearer token',
    async (protocol) => {
      locked.reset();
      const client = createEmbeddingClient(
        config({ url: locked.url, protocol, apiKey: KEY, model: MODEL }),
      );
      await client.embed(TEXTS, { purpose: 'document' });
      expect(locked.requests[0].headers.authorization).toBe(`Bearer ${KEY}`);
      expect(locked.requests[0].status).toBe(200);
    },
  );

  it('never appears in an error message, even when the server quotes it', async () => {
    const wrong = 'sk-wrong-key-7d1e0b';
    const client = createEmbeddingClient(config({ url: locked.url, apiKey: wrong }));

    const error = await failure(client.embed(TEXTS, { purpose: 'document' }));

    expect(error.code).toBe('EMBEDDINGS_REJECTED');
    expect(error.message).toMatch(/401.*Incorrect API key provided: Bearer \[redacted\]/);
    expect(JSON.stringify(error)).not.toContain(wrong);
    expect(inspect(error)).not.toContain(wrong);
    expect(JSON.stringify(client)).not.toContain(wrong);
    expect(inspect(client, { showHidden: true, depth: 5 })).not.toContain(wrong);
  });

  it('never appears in a retried failure either', async () => {
    server.faults.status(503, 5, { body: `{"error":"overloaded; your key ${KEY} is fine"}` });
    const client = createEmbeddingClient(config({ apiKey: KEY, maxRetries: 1 }));

    const error = await failure(client.embed(TEXTS, { purpose: 'document' }));

    expect(error.code).toBe('EMBEDDINGS_UNAVAILABLE');
    expect(error.message).toContain('[redacted]');
    expect(error.message).not.toContain(KEY);
  });
});

describe('configuration', () => {
  it.each([
    [{ protocol: 'kserve' as const, model: undefined }, /needs a model name/],
    [{ protocol: 'openai' as const, model: '' }, /needs a model name/],
    [{ url: 'ftp://example.com' }, /http or https/],
    [{ url: 'http://user:secret@example.com' }, /must not hold credentials/],
    [{ batchSize: 0 }, /batchSize/],
    [{ timeoutMs: 1.5 }, /timeoutMs/],
    [{ maxRetries: -1 }, /maxRetries/],
    [{ dimensions: 0 }, /dimensions/],
    [{ maxConcurrency: 0 }, /maxConcurrency/],
  ])('refuses %o', (overrides, message) => {
    expect(() => createEmbeddingClient(config(overrides))).toThrow(message);
  });

  it('takes KeelConfig.embeddings as it is', () => {
    // A compile-time check: the validated config needs no mapping to become a client.
    const fromConfig = (e: NonNullable<KeelConfig['embeddings']>) => createEmbeddingClient(e);
    const client = fromConfig({
      url: server.url,
      protocol: 'tei',
      batchSize: 8,
      maxConcurrency: 2,
      timeoutMs: 1_000,
      maxRetries: 0,
    });
    expect(client.protocol).toBe('tei');
  });

  it('lets TEI go without a model name', () => {
    const client = createEmbeddingClient(config({ protocol: 'tei', model: undefined }));
    expect(client.model).toBe('');
  });
});
