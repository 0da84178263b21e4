import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { analyze, STOP_WORDS } from '@keel/text';

/**
 * A TEST DOUBLE of an embedding server, never a model: one node:http server that speaks the three
 * protocols Keel's embedding client does, on their real paths —
 *
 * - OpenAI-compatible `POST /v1/embeddings` `{ model, input }` → `{ data: [{ index, embedding }] }`
 *   (`data` in reverse order: the protocol says `index`, not position, ties a vector to its input);
 * - Text Embeddings Inference `POST /embed` `{ inputs }` → `number[][]`;
 * - KServe Open Inference Protocol v2 `POST /v2/models/{model}/infer`, a BYTES input tensor →
 *   an FP32 output tensor of shape [n, d], data flat;
 *
 * with a deterministic embedding ({@link hashEmbedding}): Keel's own analyzer's terms, signed
 * feature hashing into a fixed number of dimensions, L2-normalised. Texts that share words get
 * similar vectors, so dense retrieval over it returns meaningful results in tests.
 *
 * Tests inject faults (`faults`: 429 with Retry-After, 503, any status, delays, wrong dimensions,
 * garbage JSON, dropped connections, …) and read what the server saw (`requests`).
 */
export interface EmbeddingServerOptions {
  /** Dimensions of the vectors. Default 64. */
  dimensions?: number;
  /** When set, requests must carry `Authorization: Bearer <apiKey>` (else 401, echoing it). */
  apiKey?: string;
  /** When set, OpenAI requests must name this model and KServe requests must address it (404). */
  model?: string;
  /** Every vector is multiplied by this (servers that do not normalise). Default 1. */
  scale?: number;
}

export type EmbeddingServerProtocol = 'openai' | 'tei' | 'kserve';

export interface RecordedRequest {
  protocol: EmbeddingServerProtocol | 'unknown';
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  /** The texts of the request (empty when the body could not be read). */
  texts: string[];
  /** The model named in the body (OpenAI) or the path (KServe). */
  model?: string;
  /** The status sent, once sent. */
  status?: number;
  /** Set when the client closed the connection before the response was sent. */
  clientClosed: boolean;
  /** Epoch ms of arrival. */
  at: number;
}

/** A fault for the next request(s); taken in order, one per request. */
type Fault =
  | { kind: 'status'; status: number; retryAfter?: string; body?: string; delayMs?: number }
  | { kind: 'dimensions'; dimensions: number }
  | { kind: 'ragged' }
  | { kind: 'garbage' }
  | { kind: 'non-finite' }
  | { kind: 'zero' }
  | { kind: 'drop' };

export class EmbeddingServerFaults {
  /** Pending one-shot faults. */
  readonly queue: Fault[] = [];
  /** Delay before every response, ms (the client may give up meanwhile). */
  delayMs = 0;

  /** The next `times` requests get 429 with `Retry-After: retryAfter` (seconds or an HTTP date). */
  rateLimit(times: number, retryAfter?: string): this {
    return this.status(429, times, { retryAfter });
  }

  /** The next `times` requests get 503, with `Retry-After` when given. */
  unavailable(times: number, retryAfter?: string): this {
    return this.status(503, times, { retryAfter });
  }

  /**
   * The next `times` requests get `status` with a JSON error body (or `body`), after `delayMs`
   * when given instead of the delay of every response.
   */
  status(
    status: number,
    times = 1,
    extra: { retryAfter?: string; body?: string; delayMs?: number } = {},
  ): this {
    for (let i = 0; i < times; i++) this.queue.push({ kind: 'status', status, ...extra });
    return this;
  }

  /** The next `times` responses have vectors of `dimensions` values. */
  wrongDimensions(dimensions: number, times = 1): this {
    for (let i = 0; i < times; i++) this.queue.push({ kind: 'dimensions', dimensions });
    return this;
  }

  /** The next response's last vector is one value short (not for KServe: its shape is fixed). */
  ragged(): this {
    this.queue.push({ kind: 'ragged' });
    return this;
  }

  /** The next `times` responses are 200 with a body that is not JSON. */
  garbage(times = 1): this {
    for (let i = 0; i < times; i++) this.queue.push({ kind: 'garbage' });
    return this;
  }

  /** The next response has a value that parses to Infinity (`1e999`). */
  nonFinite(): this {
    this.queue.push({ kind: 'non-finite' });
    return this;
  }

  /** The next response's first vector is all zeros. */
  zeroVector(): this {
    this.queue.push({ kind: 'zero' });
    return this;
  }

  /** The next `times` requests have their connection destroyed without an answer. */
  dropConnection(times = 1): this {
    for (let i = 0; i < times; i++) this.queue.push({ kind: 'drop' });
    return this;
  }

  /** Delay every response by `ms`. */
  delay(ms: number): this {
    this.delayMs = ms;
    return this;
  }

  clear(): void {
    this.queue.length = 0;
    this.delayMs = 0;
  }
}

export interface EmbeddingServer {
  /** Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash). */
  url: string;
  dimensions: number;
  faults: EmbeddingServerFaults;
  /** Every request received, in arrival order. */
  requests: RecordedRequest[];
  /** Requests being handled right now, and the most ever at once. */
  readonly inFlight: number;
  readonly maxInFlight: number;
  /** Forgets requests and faults (between tests). */
  reset(): void;
  close(): Promise<void>;
}

/** FNV-1a, 32 bits: small, fast and stable across runs and platforms. */
function fnv1a(text: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/**
 * The test double's embedding: each analysed term (stop words dropped unless the text has nothing
 * else) adds ±1 at a hashed index, its sign from an independent hash so that colliding terms tend
 * to cancel rather than pile up (signed feature hashing); then L2-normalised. A text without terms
 * gets the first unit vector, so no vector is zero.
 */
export function hashEmbedding(text: string, dimensions = 64): number[] {
  const vector = new Array<number>(dimensions).fill(0);
  const terms = analyze(text);
  const content = terms.filter((t) => !STOP_WORDS.has(t));
  for (const term of content.length > 0 ? content : terms) {
    const index = fnv1a(term) % dimensions;
    const sign = fnv1a(`sign:${term}`) & 1 ? 1 : -1;
    vector[index] += sign;
  }
  const norm = Math.hypot(...vector);
  if (norm === 0) {
    vector[0] = 1;
    return vector;
  }
  return vector.map((x) => x / norm);
}

/** Stands for the value the non-finite fault turns into `1e999` in the JSON text. */
const NON_FINITE_MARK = 987654321.5;
const KSERVE_PATH = /^\/v2\/models\/([^/]+)\/infer$/;

export async function startEmbeddingServer(
  options: EmbeddingServerOptions = {},
): Promise<EmbeddingServer> {
  const dimensions = options.dimensions ?? 64;
  const scale = options.scale ?? 1;
  const faults = new EmbeddingServerFaults();
  const requests: RecordedRequest[] = [];
  let inFlight = 0;
  let maxInFlight = 0;

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    const record: RecordedRequest = {
      protocol: 'unknown',
      method: req.method ?? '',
      path,
      headers: req.headers,
      texts: [],
      clientClosed: false,
      at: Date.now(),
    };
    requests.push(record);
    inFlight++;
    maxInFlight = Math.max(maxInFlight, inFlight);
    let done = false;
    const finish = () => {
      if (!done) {
        done = true;
        inFlight--;
      }
    };
    res.on('finish', finish);
    res.on('close', () => {
      if (!res.writableFinished) record.clientClosed = true;
      finish();
    });

    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const send = (
        status: number,
        body: string,
        headers: Record<string, string> = {},
        delayMs = faults.delayMs,
      ) => {
        const answer = () => {
          if (res.destroyed) return;
          record.status = status;
          res.writeHead(status, { 'content-type': 'application/json', ...headers });
          res.end(body);
        };
        if (delayMs > 0) setTimeout(answer, delayMs);
        else answer();
      };
      const json = (status: number, value: unknown, headers?: Record<string, string>) =>
        send(status, JSON.stringify(value), headers);

      let body: unknown;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      } catch {
        body = undefined;
      }
      const kserveMatch = KSERVE_PATH.exec(path);
      record.protocol =
        path === '/v1/embeddings'
          ? 'openai'
          : path === '/embed'
            ? 'tei'
            : kserveMatch
              ? 'kserve'
              : 'unknown';
      if (req.method !== 'POST' || record.protocol === 'unknown') {
        return json(404, { error: `no route for ${req.method} ${path}` });
      }
      const texts = textsOf(record.protocol, body);
      record.texts = texts ?? [];
      record.model =
        record.protocol === 'openai'
          ? (body as { model?: string } | undefined)?.model
          : kserveMatch
            ? decodeURIComponent(kserveMatch[1])
            : undefined;

      if (options.apiKey !== undefined) {
        const given = req.headers.authorization;
        if (given !== `Bearer ${options.apiKey}`) {
          // Real servers quote the key they were given; a client must not pass that on.
          return json(401, { error: { message: `Incorrect API key provided: ${given ?? ''}` } });
        }
      }
      const fault = faults.queue.shift();
      if (fault?.kind === 'drop') {
        req.socket.destroy();
        return;
      }
      if (fault?.kind === 'status') {
        const headers: Record<string, string> =
          fault.retryAfter !== undefined ? { 'retry-after': fault.retryAfter } : {};
        return send(
          fault.status,
          fault.body ?? JSON.stringify({ error: `injected ${fault.status}` }),
          headers,
          fault.delayMs,
        );
      }
      if (texts === undefined) {
        return json(400, { error: 'the request does not have the protocol shape' });
      }
      if (
        options.model !== undefined &&
        record.model !== undefined &&
        record.model !== options.model
      ) {
        return json(404, { error: `model ${record.model} not found` });
      }
      if (fault?.kind === 'garbage') return send(200, '{"data": [ this is not json');

      const dims = fault?.kind === 'dimensions' ? fault.dimensions : dimensions;
      const vectors = texts.map((text) =>
        resize(hashEmbedding(text, dimensions), dims).map((x) => x * scale),
      );
      if (fault?.kind === 'ragged' && vectors.length > 0) vectors[vectors.length - 1].pop();
      if (fault?.kind === 'zero' && vectors.length > 0) vectors[0].fill(0);
      if (fault?.kind === 'non-finite' && vectors.length > 0) vectors[0][0] = NON_FINITE_MARK;
      const text = render(record.protocol, vectors, record.model ?? '', dims);
      // JSON cannot say Infinity, but a number too big for a double parses to it.
      return send(200, text.replace(String(NON_FINITE_MARK), '1e999'));
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    dimensions,
    faults,
    requests,
    get inFlight() {
      return inFlight;
    },
    get maxInFlight() {
      return maxInFlight;
    },
    reset() {
      requests.length = 0;
      faults.clear();
      maxInFlight = inFlight;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

function textsOf(protocol: EmbeddingServerProtocol, body: unknown): string[] | undefined {
  const strings = (value: unknown): string[] | undefined =>
    typeof value === 'string'
      ? [value]
      : Array.isArray(value) && value.every((v) => typeof v === 'string')
        ? value
        : undefined;
  if (typeof body !== 'object' || body === null) return undefined;
  const b = body as Record<string, unknown>;
  switch (protocol) {
    case 'openai':
      return typeof b.model === 'string' ? strings(b.input) : undefined;
    case 'tei':
      return strings(b.inputs);
    case 'kserve': {
      const inputs = b.inputs;
      if (!Array.isArray(inputs) || inputs.length !== 1) return undefined;
      const tensor = inputs[0] as Record<string, unknown>;
      const data = strings(tensor.data);
      const shape = tensor.shape;
      const shapeOk =
        Array.isArray(shape) && shape.length === 1 && shape[0] === (data?.length ?? -1);
      return tensor.datatype === 'BYTES' && typeof tensor.name === 'string' && shapeOk
        ? data
        : undefined;
    }
  }
}

function render(
  protocol: EmbeddingServerProtocol,
  vectors: number[][],
  model: string,
  dims: number,
): string {
  switch (protocol) {
    case 'openai':
      return JSON.stringify({
        object: 'list',
        data: vectors
          .map((embedding, index) => ({ object: 'embedding', index, embedding }))
          .reverse(),
        model,
        usage: { prompt_tokens: 0, total_tokens: 0 },
      });
    case 'tei':
      return JSON.stringify(vectors);
    case 'kserve':
      return JSON.stringify({
        model_name: model,
        outputs: [
          {
            name: 'embedding',
            shape: [vectors.length, dims],
            datatype: 'FP32',
            data: vectors.flat(),
          },
        ],
      });
  }
}

/** The vector cut or zero-padded to `dims` (the "wrong dimensions" fault). */
function resize(vector: number[], dims: number): number[] {
  if (dims <= vector.length) return vector.slice(0, dims);
  return [...vector, ...new Array<number>(dims - vector.length).fill(0.1)];
}
