export type EmbeddingProtocol = 'openai' | 'tei' | 'kserve';

/** Asymmetric models embed a query and the passages it should find differently. */
export type EmbeddingPurpose = 'document' | 'query';

export interface EmbedOptions {
  purpose: EmbeddingPurpose;
  signal?: AbortSignal;
  /** epoch ms */
  deadline?: number;
}

/** A client of one embedding server. Safe to share: it keeps no per-call state. */
export interface EmbeddingClient {
  readonly protocol: EmbeddingProtocol;
  /** The configured model; '' when TEI serves one that was not named (TEI ignores the name). */
  readonly model: string;
  /** Known from config, or from the first response (then every later response must match). */
  readonly dimensions: number | undefined;
  /** One vector per text, in order; L2-normalised number[]s. */
  embed(texts: readonly string[], options: EmbedOptions): Promise<number[][]>;
}

export interface EmbeddingClientConfig {
  /** The server's base URL; the protocol's path is appended to it. */
  url: string;
  protocol: EmbeddingProtocol;
  /** Required for openai and kserve (it is in the body or the path). */
  model?: string;
  dimensions?: number;
  /** Texts per request. */
  batchSize: number;
  /** Bound of each HTTP attempt; a call's deadline bounds it further. */
  timeoutMs: number;
  /** Retries of one request after the first attempt (429, 503, connection errors, timeouts). */
  maxRetries: number;
  /** Sent as `Authorization: Bearer …`; never appears in an error message. */
  apiKey?: string;
  /** Requests of one `embed` call in flight at once. Default 2. */
  maxConcurrency?: number;
  /** Prepended to each query text (instruction-tuned models, e.g. E5's `query: `). Default none. */
  queryPrefix?: string;
  /** Prepended to each document text (e.g. E5's `passage: `). Default none. */
  documentPrefix?: string;
  /** KServe: name of the BYTES input tensor. Default `input-0`, as KServe's Hugging Face runtime. */
  kserveInputName?: string;
  /** KServe: the output tensor holding the vectors. Default: the first floating-point one. */
  kserveOutputName?: string;
  /** Back-off between retries: first delay cap and overall cap, ms. Default 100 and 5000. */
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
}
