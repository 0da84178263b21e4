import { KeelError } from '@keel/contracts/jobs';
import { EMBEDDING_ERRORS, postJson, stoppedError } from './http.js';
import { ResponseShapeError, wireFor, type EmbeddingWire } from './protocols.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './retry.js';
import type {
  EmbedOptions,
  EmbeddingClient,
  EmbeddingClientConfig,
  EmbeddingProtocol,
} from './types.js';
import { normaliseVectors, VectorError } from './vectors.js';

const DEFAULT_CONCURRENCY = 2;
const PROTOCOLS: readonly EmbeddingProtocol[] = ['openai', 'tei', 'kserve'];

/**
 * A client of the embedding server `config` describes. Nest-free and stateless per call (the
 * learned dimension aside), so one client can serve a whole worker thread.
 */
export function createEmbeddingClient(config: EmbeddingClientConfig): EmbeddingClient {
  return new HttpEmbeddingClient(config);
}

class HttpEmbeddingClient implements EmbeddingClient {
  readonly protocol: EmbeddingProtocol;
  readonly model: string;
  readonly #endpoint: URL;
  readonly #wire: EmbeddingWire;
  // Private fields: neither JSON.stringify nor util.inspect shows them, so logging the client
  // cannot leak the key.
  readonly #headers: Readonly<Record<string, string>>;
  readonly #secrets: readonly string[];
  readonly #batchSize: number;
  readonly #concurrency: number;
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #backoff: BackoffOptions;
  readonly #prefix: { query: string; document: string };
  #dimensions: number | undefined;

  constructor(config: EmbeddingClientConfig) {
    if (!PROTOCOLS.includes(config.protocol)) {
      throw new RangeError(`embedding protocol must be one of ${PROTOCOLS.join(', ')}`);
    }
    const base = parseBaseUrl(config.url);
    if (config.protocol !== 'tei' && !config.model) {
      throw new RangeError(`the ${config.protocol} embedding protocol needs a model name`);
    }
    positiveInt('batchSize', config.batchSize);
    positiveInt('timeoutMs', config.timeoutMs);
    if (!Number.isInteger(config.maxRetries) || config.maxRetries < 0) {
      throw new RangeError('maxRetries must be a non-negative integer');
    }
    if (config.dimensions !== undefined) positiveInt('dimensions', config.dimensions);
    if (config.maxConcurrency !== undefined) positiveInt('maxConcurrency', config.maxConcurrency);

    this.protocol = config.protocol;
    this.model = config.model ?? '';
    this.#wire = wireFor(config.protocol, {
      model: this.model,
      kserveInputName: config.kserveInputName ?? 'input-0',
      kserveOutputName: config.kserveOutputName,
    });
    this.#endpoint = new URL(this.#wire.path, base);
    this.#headers = {
      'content-type': 'application/json',
      accept: 'application/json',
      ...(config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {}),
    };
    this.#secrets = config.apiKey ? [config.apiKey] : [];
    this.#batchSize = config.batchSize;
    this.#concurrency = config.maxConcurrency ?? DEFAULT_CONCURRENCY;
    this.#timeoutMs = config.timeoutMs;
    this.#maxRetries = config.maxRetries;
    this.#backoff = {
      baseDelayMs: config.retryBaseDelayMs ?? DEFAULT_BACKOFF.baseDelayMs,
      maxDelayMs: config.retryMaxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs,
    };
    this.#prefix = { query: config.queryPrefix ?? '', document: config.documentPrefix ?? '' };
    this.#dimensions = config.dimensions;
  }

  get dimensions(): number | undefined {
    return this.#dimensions;
  }

  async embed(texts: readonly string[], options: EmbedOptions): Promise<number[][]> {
    if (options.signal?.aborted) throw stoppedError(options.signal, EMBEDDING_ERRORS);
    if (options.deadline !== undefined && Date.now() >= options.deadline) {
      throw new KeelError('DEADLINE_EXCEEDED', 'the deadline passed before the embeddings came');
    }
    if (texts.length === 0) return [];
    const prefix = options.purpose === 'query' ? this.#prefix.query : this.#prefix.document;
    const inputs = prefix ? texts.map((t) => prefix + t) : texts;
    const batches: (readonly string[])[] = [];
    for (let i = 0; i < inputs.length; i += this.#batchSize) {
      batches.push(inputs.slice(i, i + this.#batchSize));
    }

    // A failed batch stops its siblings: their answers can no longer make a whole result.
    const stop = new AbortController();
    const results = new Array<number[][]>(batches.length);
    let next = 0;
    let failure: { error: unknown } | undefined;
    const lane = async (): Promise<void> => {
      while (failure === undefined && next < batches.length) {
        const index = next++;
        try {
          results[index] = await this.#embedBatch(batches[index], options, stop.signal);
        } catch (error) {
          if (failure === undefined) {
            failure = {
              error: options.signal?.aborted
                ? stoppedError(options.signal, EMBEDDING_ERRORS)
                : error,
            };
            stop.abort();
          }
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.#concurrency, batches.length) }, lane));
    if (failure !== undefined) throw failure.error;
    return results.flat();
  }

  async #embedBatch(
    texts: readonly string[],
    options: EmbedOptions,
    stop: AbortSignal,
  ): Promise<number[][]> {
    const json = await postJson({
      url: this.#endpoint,
      body: this.#wire.body(texts),
      headers: this.#headers,
      timeoutMs: this.#timeoutMs,
      maxRetries: this.#maxRetries,
      backoff: this.#backoff,
      deadline: options.deadline,
      signal: options.signal,
      stop,
      secrets: this.#secrets,
      errors: EMBEDDING_ERRORS,
    });
    const where = `${this.#endpoint.origin}${this.#endpoint.pathname}`;
    try {
      const vectors = normaliseVectors(this.#wire.parse(json, texts.length), this.#dimensions);
      // The first answer fixes the dimension when config did not; a concurrent batch that
      // answered first has already fixed it, and then this one was checked against it.
      this.#dimensions ??= vectors[0]?.length;
      return vectors;
    } catch (error) {
      if (error instanceof VectorError || error instanceof ResponseShapeError) {
        throw new KeelError(
          'EMBEDDINGS_INVALID',
          `${where} answered an unusable response: ${error.message}`,
          error instanceof VectorError && error.dimensions
            ? [{ field: 'dimensions', message: error.message }]
            : undefined,
        );
      }
      throw error;
    }
  }
}

function parseBaseUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RangeError('the embedding server URL is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RangeError('the embedding server URL must be http or https');
  }
  if (url.username || url.password) {
    // fetch refuses such URLs, and a message quoting one would leak it.
    throw new RangeError('the embedding server URL must not hold credentials: use the API key');
  }
  // A base without a trailing slash would lose its last segment when the path is resolved.
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  url.search = '';
  url.hash = '';
  return url;
}

function positiveInt(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be an integer ≥ 1`);
}
