/**
 * The OpenSearch backend: collections as indices on an OpenSearch cluster, for deployments where
 * API pods and workers share one store. Nest-free: the API calls it for searches (I/O, no CPU
 * worth a job) and the ingest job calls it from its worker thread after chunking.
 *
 * Layout, by name (a collection name matches ^[a-z0-9][a-z0-9_-]{0,62}$, so it can never spell a
 * wildcard, a system index or another collection's index):
 *
 * - `keel-catalog`: one document per collection (chunking, embedding model), the catalog every
 *   API pod reads;
 * - `keel-c-<name>`: an alias over the collection's chunk index `keel-ci-<name>-<generation>`, so
 *   a re-index can build a new generation and swap the alias; chunks with their text (the
 *   `english` analyzer, a `standard` subfield), title, metadata as keywords, Keel's own analyzed
 *   terms (for corpus statistics) and, with vectors, a `knn_vector` (Lucene HNSW, cosine);
 * - `keel-d-<name>`: one record per document (its text, metadata and content hash), not indexed
 *   for search: the source of GET /documents/:id and of the hashes that make ingest idempotent.
 *
 * A document's record is written after all its chunks: it is the commit point. Old chunks of a
 * changed document are deleted after the record; a document whose chunks fail keeps its previous
 * version (its new chunks are deleted again) and is reported as failed, while the rest of the
 * batch is stored.
 */
import { Client } from '@opensearch-project/opensearch';
import {
  KeelError,
  type ChunkingSettings,
  type CorpusStats,
  type EmbeddingSpec,
  type IngestDocumentStatus,
  type Metadata,
  type SearchHit,
  type SearchResult,
  type SerializedError,
} from '@keel/contracts/jobs';
import { queryTerms, analyze } from '@keel/text';
import type { PreparedDocument, StoredDocument } from '../sqlite/sqlite-store.js';

export const CATALOG_INDEX = 'keel-catalog';
/**
 * BM25 over title and text as OpenSearch scores them: `multi_match` best_fields takes the better
 * field's score plus tie_breaker × the other's. Chosen on SciFact TRAIN (809 claims, nDCG@10):
 * title boost 1 and tie_breaker 0.3 gave 0.6981; 0 gave 0.6846, 1.0 gave 0.6721, and a title boost
 * of 2 or more fell below 0.64 (the best field alone wins, so a boosted title swamps the text).
 * Test was only reported (docs/benchmarks/backends.md).
 */
export const BM25_TITLE_BOOST = 1;
export const BM25_TIE_BREAKER = 0.3;

export function chunkAlias(name: string): string {
  return `keel-c-${name}`;
}

export function chunkIndex(name: string, generation = 1): string {
  return `keel-ci-${name}-${generation}`;
}

export function documentIndex(name: string): string {
  return `keel-d-${name}`;
}

export interface CallOptions {
  signal?: AbortSignal;
  /** Epoch ms. */
  deadline?: number;
}

export interface OpenSearchCollection {
  name: string;
  backend: 'opensearch';
  chunkSize: number;
  chunkOverlap: number;
  encoding: ChunkingSettings['encoding'];
  embedding?: EmbeddingSpec;
  /** The chunk index generation the alias points at. */
  generation: number;
  createdAt: string;
  updatedAt: string;
}

export interface OpenSearchCounts {
  documentCount: number;
  chunkCount: number;
}

export interface SearchOptions {
  topK: number;
  filter?: Metadata;
  group: 'chunk' | 'document';
}

export interface DocumentOutcome {
  id: string;
  status: IngestDocumentStatus;
  chunks: number;
  error?: SerializedError;
}

export interface BackendOptions {
  /** Deadline of one call when the caller gives none. */
  timeoutMs: number;
  /** Replicas of new indices (0 on a single node). */
  replicas?: number;
  /** Bulk requests: at most this many actions, and about this many bytes. */
  bulkActions?: number;
  bulkBytes?: number;
}

interface ChunkSource {
  document_id: string;
  chunk_index: number;
  doc_hash: string;
  title?: string;
  text: string;
  metadata: Metadata;
  terms: string[];
  term_count: number;
  embedding?: readonly number[];
}

interface DocumentSource {
  id: string;
  title?: string;
  text: string;
  metadata: Metadata;
  hash: string;
  chunk_count: number;
  updated_at: string;
}

interface CatalogSource {
  name: string;
  chunk_size: number;
  chunk_overlap: number;
  encoding: ChunkingSettings['encoding'];
  embedding_model?: string;
  embedding_dimensions?: number;
  generation: number;
  created_at: string;
  updated_at: string;
}

type Pending<T> = Promise<T> & { abort?: () => void };

interface ErrorBody {
  error?: { type?: string; reason?: string; caused_by?: { reason?: string } };
}

const RETRIES_ON_429 = 5;
const SOURCE_EXCLUDES = ['embedding', 'terms'];

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(timer);
        reject(new KeelError('CANCELLED', 'the request was cancelled'));
      },
      { once: true },
    );
  });
}

function statusOf(error: unknown): number | undefined {
  const e = error as { meta?: { statusCode?: number }; statusCode?: number };
  return e?.meta?.statusCode ?? e?.statusCode;
}

function reasonOf(error: unknown): string {
  const body = (error as { meta?: { body?: ErrorBody } })?.meta?.body;
  return (
    body?.error?.caused_by?.reason ??
    body?.error?.reason ??
    (error instanceof Error ? error.message : String(error))
  );
}

function typeOf(error: unknown): string | undefined {
  return (error as { meta?: { body?: ErrorBody } })?.meta?.body?.error?.type;
}

/** OpenSearch's view of metadata filters: every pair must match. */
function filters(filter: Metadata | undefined): object[] {
  return Object.entries(filter ?? {}).map(([key, value]) => ({
    term: { [`metadata.${key}`]: value },
  }));
}

/** Lucene's cosinesimil score is (1 + cos) / 2; Keel reports the cosine. */
function cosineOf(score: number): number {
  return 2 * score - 1;
}

export class OpenSearchBackend {
  readonly client: Client;

  constructor(
    readonly url: string,
    private readonly options: BackendOptions,
  ) {
    // Retries are Keel's (on 429, under the caller's deadline), not the client's.
    this.client = new Client({ node: url, maxRetries: 0, requestTimeout: options.timeoutMs });
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /**
   * One call to the cluster under the caller's deadline and signal (aborting it closes the
   * request), with its failures as Keel's codes: unreachable, timed out or 5xx →
   * BACKEND_UNAVAILABLE; 429 → OVERLOADED; a missing index → COLLECTION_NOT_FOUND.
   */
  private async call<T>(
    request: (options: { requestTimeout: number }) => Pending<{ body: T }>,
    options: CallOptions,
    what: string,
  ): Promise<T> {
    const remaining = options.deadline === undefined ? Infinity : options.deadline - Date.now();
    if (remaining <= 0) throw new KeelError('DEADLINE_EXCEEDED', `no time left for ${what}`);
    if (options.signal?.aborted) throw new KeelError('CANCELLED', 'the request was cancelled');
    const pending = request({
      requestTimeout: Math.max(1, Math.min(this.options.timeoutMs, remaining)),
    });
    const onAbort = () => pending.abort?.();
    options.signal?.addEventListener('abort', onAbort, { once: true });
    try {
      return (await pending).body;
    } catch (error) {
      if (options.signal?.aborted) {
        const reason: unknown = options.signal.reason;
        throw reason instanceof DOMException && reason.name === 'TimeoutError'
          ? new KeelError('DEADLINE_EXCEEDED', `${what}: the deadline passed`)
          : new KeelError('CANCELLED', 'the request was cancelled');
      }
      throw this.translate(error, what);
    } finally {
      options.signal?.removeEventListener('abort', onAbort);
    }
  }

  private translate(error: unknown, what: string): KeelError {
    if (error instanceof KeelError) return error;
    const status = statusOf(error);
    const type = typeOf(error);
    if (type === 'index_not_found_exception') {
      return new KeelError(
        'COLLECTION_NOT_FOUND',
        `${what}: the collection's index does not exist`,
      );
    }
    if (status === 429) {
      return new KeelError('OVERLOADED', `${what}: OpenSearch is overloaded`, undefined, 1);
    }
    if (status !== undefined && status >= 400 && status < 500) {
      return new KeelError('VALIDATION_FAILED', `${what}: ${reasonOf(error)}`);
    }
    return new KeelError(
      'BACKEND_UNAVAILABLE',
      `${what}: OpenSearch did not answer (${reasonOf(error)})`,
    );
  }

  // ---- health ---------------------------------------------------------------------------------

  async health(
    options: CallOptions = {},
  ): Promise<{ up: boolean; details: Record<string, unknown> }> {
    try {
      const body = await this.call(
        (o) =>
          this.client.cluster.health({ timeout: '2s' }, o) as Pending<{
            body: { status: string; number_of_nodes: number };
          }>,
        options,
        'cluster health',
      );
      return {
        up: body.status !== 'red',
        details: { backend: 'opensearch', cluster: body.status, nodes: body.number_of_nodes },
      };
    } catch (error) {
      return {
        up: false,
        details: {
          backend: 'opensearch',
          error: error instanceof Error ? error.message : String(error),
        },
      };
    }
  }

  // ---- collections ----------------------------------------------------------------------------

  private async ensureCatalog(options: CallOptions): Promise<void> {
    try {
      await this.call(
        (o) =>
          this.client.indices.create(
            {
              index: CATALOG_INDEX,
              body: {
                settings: {
                  index: { number_of_shards: 1, number_of_replicas: this.options.replicas ?? 0 },
                },
                mappings: { dynamic: false, properties: { name: { type: 'keyword' } } },
              },
            },
            o,
          ) as Pending<{ body: unknown }>,
        options,
        'create the catalog',
      );
    } catch (error) {
      if (!(
        error instanceof KeelError && /resource_already_exists|already exists/.test(error.message)
      )) {
        throw error;
      }
    }
  }

  private toCollection(source: CatalogSource): OpenSearchCollection {
    return {
      name: source.name,
      backend: 'opensearch',
      chunkSize: source.chunk_size,
      chunkOverlap: source.chunk_overlap,
      encoding: source.encoding,
      ...(source.embedding_model && source.embedding_dimensions
        ? { embedding: { model: source.embedding_model, dimensions: source.embedding_dimensions } }
        : {}),
      generation: source.generation,
      createdAt: source.created_at,
      updatedAt: source.updated_at,
    };
  }

  async listCollections(options: CallOptions = {}): Promise<OpenSearchCollection[]> {
    try {
      const body = await this.call(
        (o) =>
          this.client.search(
            { index: CATALOG_INDEX, body: { size: 1_000, sort: [{ name: 'asc' }] } },
            o,
          ) as Pending<{ body: { hits: { hits: Array<{ _source: CatalogSource }> } } }>,
        options,
        'list collections',
      );
      return body.hits.hits.map((h) => this.toCollection(h._source));
    } catch (error) {
      if (error instanceof KeelError && error.code === 'COLLECTION_NOT_FOUND') return [];
      throw error;
    }
  }

  async getCollection(
    name: string,
    options: CallOptions = {},
  ): Promise<OpenSearchCollection | undefined> {
    try {
      const body = await this.call(
        (o) =>
          this.client.get({ index: CATALOG_INDEX, id: name }, { ...o, ignore: [404] }) as Pending<{
            body: { found: boolean; _source?: CatalogSource };
          }>,
        options,
        `read collection '${name}'`,
      );
      return body.found && body._source ? this.toCollection(body._source) : undefined;
    } catch (error) {
      if (error instanceof KeelError && error.code === 'COLLECTION_NOT_FOUND') return undefined;
      throw error;
    }
  }

  async createCollection(
    name: string,
    chunking: ChunkingSettings,
    embedding: EmbeddingSpec | undefined,
    options: CallOptions = {},
  ): Promise<OpenSearchCollection> {
    await this.ensureCatalog(options);
    if (await this.getCollection(name, options)) {
      throw new KeelError('COLLECTION_EXISTS', `collection '${name}' already exists`);
    }
    const replicas = this.options.replicas ?? 0;
    const properties: Record<string, unknown> = {
      document_id: { type: 'keyword' },
      chunk_index: { type: 'integer' },
      doc_hash: { type: 'keyword' },
      title: {
        type: 'text',
        analyzer: 'english',
        fields: { std: { type: 'text', analyzer: 'standard' } },
      },
      text: {
        type: 'text',
        analyzer: 'english',
        fields: { std: { type: 'text', analyzer: 'standard' } },
      },
      metadata: { type: 'object', dynamic: true },
      // Keel's own analyzer's terms, for the document frequencies the reranker reads.
      terms: { type: 'keyword', doc_values: false },
      term_count: { type: 'integer' },
      ...(embedding
        ? {
            embedding: {
              type: 'knn_vector',
              dimension: embedding.dimensions,
              method: { name: 'hnsw', engine: 'lucene', space_type: 'cosinesimil' },
            },
          }
        : {}),
    };
    try {
      await this.call(
        (o) =>
          this.client.indices.create(
            {
              index: chunkIndex(name),
              body: {
                settings: {
                  index: {
                    number_of_shards: 1,
                    number_of_replicas: replicas,
                    ...(embedding ? { knn: true } : {}),
                  },
                },
                aliases: { [chunkAlias(name)]: {} },
                mappings: {
                  dynamic: 'strict',
                  // Metadata values are keywords when strings, so filters match exactly.
                  dynamic_templates: [
                    {
                      metadata_strings: {
                        path_match: 'metadata.*',
                        match_mapping_type: 'string',
                        mapping: { type: 'keyword' },
                      },
                    },
                  ],
                  // The client's mapping types do not know knn_vector.
                  properties: properties as never,
                },
              },
            },
            o,
          ) as Pending<{ body: unknown }>,
        options,
        `create collection '${name}'`,
      );
      await this.call(
        (o) =>
          this.client.indices.create(
            {
              index: documentIndex(name),
              body: {
                settings: { index: { number_of_shards: 1, number_of_replicas: replicas } },
                mappings: { dynamic: false, properties: { hash: { type: 'keyword' } } },
              },
            },
            o,
          ) as Pending<{ body: unknown }>,
        options,
        `create collection '${name}'`,
      );
    } catch (error) {
      if (error instanceof KeelError && /already exists/.test(error.message)) {
        throw new KeelError('COLLECTION_EXISTS', `collection '${name}' already exists`);
      }
      throw error;
    }
    const now = new Date().toISOString();
    const source: CatalogSource = {
      name,
      chunk_size: chunking.chunkSize,
      chunk_overlap: chunking.chunkOverlap,
      encoding: chunking.encoding,
      ...(embedding
        ? { embedding_model: embedding.model, embedding_dimensions: embedding.dimensions }
        : {}),
      generation: 1,
      created_at: now,
      updated_at: now,
    };
    await this.call(
      (o) =>
        this.client.index(
          { index: CATALOG_INDEX, id: name, op_type: 'create', refresh: 'wait_for', body: source },
          o,
        ) as Pending<{ body: unknown }>,
      options,
      `register collection '${name}'`,
    );
    return this.toCollection(source);
  }

  async deleteCollection(name: string, options: CallOptions = {}): Promise<boolean> {
    const collection = await this.getCollection(name, options);
    if (!collection) return false;
    // Exact names only: a wildcard such as keel-ci-a-* would also match collection 'a-b'.
    await this.call(
      (o) =>
        this.client.indices.delete(
          {
            index: `${chunkIndex(name, collection.generation)},${documentIndex(name)}`,
            ignore_unavailable: true,
          },
          o,
        ) as Pending<{ body: unknown }>,
      options,
      `delete collection '${name}'`,
    );
    await this.call(
      (o) =>
        this.client.delete(
          { index: CATALOG_INDEX, id: name, refresh: 'wait_for' },
          { ...o, ignore: [404] },
        ) as Pending<{
          body: unknown;
        }>,
      options,
      `unregister collection '${name}'`,
    );
    return true;
  }

  async counts(name: string, options: CallOptions = {}): Promise<OpenSearchCounts> {
    const body = await this.call(
      (o) =>
        this.client.msearch(
          {
            body: [
              { index: documentIndex(name) },
              { size: 0, track_total_hits: true },
              { index: chunkAlias(name) },
              { size: 0, track_total_hits: true },
            ],
          },
          o,
        ) as Pending<{
          body: { responses: Array<{ hits?: { total: { value: number } }; error?: unknown }> };
        }>,
      options,
      `count collection '${name}'`,
    );
    const [docs, chunks] = body.responses;
    return {
      documentCount: docs.hits?.total.value ?? 0,
      chunkCount: chunks.hits?.total.value ?? 0,
    };
  }

  // ---- documents ------------------------------------------------------------------------------

  /** Content hashes already stored for these ids (unchanged documents are skipped). */
  async storedHashes(
    name: string,
    ids: readonly string[],
    options: CallOptions = {},
  ): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    if (ids.length === 0) return out;
    const body = await this.call(
      (o) =>
        this.client.mget(
          { index: documentIndex(name), body: { ids: [...ids] }, _source_includes: ['hash'] },
          o,
        ) as Pending<{
          body: { docs: Array<{ _id: string; found?: boolean; _source?: { hash: string } }> };
        }>,
      options,
      `read document hashes of '${name}'`,
    );
    for (const d of body.docs) if (d.found && d._source) out.set(d._id, d._source.hash);
    return out;
  }

  async getDocument(
    name: string,
    id: string,
    options: CallOptions = {},
  ): Promise<StoredDocument | undefined> {
    const body = await this.call(
      (o) =>
        this.client.get({ index: documentIndex(name), id }, { ...o, ignore: [404] }) as Pending<{
          body: { found: boolean; _source?: DocumentSource };
        }>,
      options,
      `read document '${id}'`,
    );
    if (!body.found || !body._source) return undefined;
    const s = body._source;
    return {
      id: s.id,
      ...(s.title !== undefined ? { title: s.title } : {}),
      text: s.text,
      metadata: s.metadata,
      chunks: s.chunk_count,
      updatedAt: s.updated_at,
    };
  }

  async deleteDocument(name: string, id: string, options: CallOptions = {}): Promise<boolean> {
    const deleted = await this.call(
      (o) =>
        this.client.delete({ index: documentIndex(name), id }, { ...o, ignore: [404] }) as Pending<{
          body: { result?: string };
        }>,
      options,
      `delete document '${id}'`,
    );
    await this.deleteChunks(name, [{ term: { document_id: id } }], options);
    await this.refresh(name, options);
    return deleted.result === 'deleted';
  }

  private async deleteChunks(name: string, should: object[], options: CallOptions): Promise<void> {
    // Bounded clause counts (OpenSearch refuses more than 1,024 clauses in one bool).
    for (let i = 0; i < should.length; i += 500) {
      await this.call(
        (o) =>
          this.client.deleteByQuery(
            {
              index: chunkAlias(name),
              conflicts: 'proceed',
              body: {
                query: { bool: { should: should.slice(i, i + 500), minimum_should_match: 1 } },
              },
            },
            o,
          ) as Pending<{ body: unknown }>,
        options,
        `delete old chunks of '${name}'`,
      );
    }
  }

  /**
   * Sends bulk actions in bounded batches; items refused with 429 are sent again with back-off
   * and jitter (as are whole requests refused with 429), within the deadline. Returns, per action
   * index, the error of the items that failed for good.
   */
  private async bulk(
    actions: Array<[object, object]>,
    options: CallOptions,
    what: string,
  ): Promise<Map<number, { status: number; type?: string; reason: string }>> {
    const failed = new Map<number, { status: number; type?: string; reason: string }>();
    const maxActions = this.options.bulkActions ?? 500;
    const maxBytes = this.options.bulkBytes ?? 5 * 1024 * 1024;
    let pending = actions.map((_, i) => i);
    for (let attempt = 0; pending.length > 0; attempt++) {
      const retry: number[] = [];
      for (let start = 0; start < pending.length;) {
        const batch: number[] = [];
        let bytes = 0;
        while (
          start < pending.length &&
          batch.length < maxActions &&
          (batch.length === 0 || bytes < maxBytes)
        ) {
          const i = pending[start++];
          bytes += JSON.stringify(actions[i][1]).length;
          batch.push(i);
        }
        let body: {
          items: Array<
            Record<
              string,
              {
                status: number;
                error?: { type?: string; reason?: string; caused_by?: { reason?: string } };
              }
            >
          >;
        };
        try {
          body = await this.call(
            (o) =>
              this.client.bulk({ body: batch.flatMap((i) => actions[i]) }, o) as Pending<{
                body: typeof body;
              }>,
            options,
            what,
          );
        } catch (error) {
          if (
            error instanceof KeelError &&
            error.code === 'OVERLOADED' &&
            attempt < RETRIES_ON_429
          ) {
            retry.push(...batch);
            continue;
          }
          throw error;
        }
        body.items.forEach((item, k) => {
          const result = Object.values(item)[0];
          if (result.status < 300) return;
          if (result.status === 429 && attempt < RETRIES_ON_429) {
            retry.push(batch[k]);
          } else {
            failed.set(batch[k], {
              status: result.status,
              ...(result.error?.type ? { type: result.error.type } : {}),
              reason:
                result.error?.caused_by?.reason ??
                result.error?.reason ??
                `status ${result.status}`,
            });
          }
        });
      }
      pending = retry;
      if (pending.length > 0) {
        // Full jitter over an exponential back-off: 100 ms, 200 ms, … capped at 3 s.
        await sleep(Math.random() * Math.min(3_000, 100 * 2 ** attempt), options.signal);
      }
    }
    return failed;
  }

  /**
   * Writes a batch: for each changed document, its chunks, then its record, then the removal of
   * the chunks of its previous version. Documents are independent: one that fails (a metadata
   * value whose type conflicts with the mapping, say) is reported and keeps its previous version,
   * and the others are stored.
   */
  async upsertDocuments(
    collection: OpenSearchCollection,
    prepared: PreparedDocument[],
    stored: ReadonlyMap<string, string>,
    options: CallOptions = {},
  ): Promise<DocumentOutcome[]> {
    const name = collection.name;
    const alias = chunkAlias(name);
    const changed = prepared.filter((p) => stored.get(p.doc.id) !== p.hash);
    const chunkActions: Array<[object, object]> = [];
    const owner: number[] = []; // chunk action → index in `changed`
    changed.forEach(({ doc, hash, chunks }, d) => {
      const titleTerms = doc.title ? analyze(doc.title) : [];
      for (const chunk of chunks) {
        const terms = analyze(chunk.text);
        const source: ChunkSource = {
          document_id: doc.id,
          chunk_index: chunk.index,
          doc_hash: hash,
          ...(doc.title !== undefined ? { title: doc.title } : {}),
          text: chunk.text,
          metadata: doc.metadata ?? {},
          terms: [...new Set([...titleTerms, ...terms])],
          term_count: terms.length + titleTerms.length,
          ...(chunk.vector ? { embedding: chunk.vector } : {}),
        };
        chunkActions.push([
          { index: { _index: alias, _id: `${doc.id}#${hash.slice(0, 16)}#${chunk.index}` } },
          source,
        ]);
        owner.push(d);
      }
    });
    const chunkFailures = await this.bulk(chunkActions, options, `write chunks of '${name}'`);
    const failedDocs = new Map<number, SerializedError>();
    for (const [action, failure] of chunkFailures) {
      const d = owner[action];
      if (failedDocs.has(d)) continue;
      const conflict =
        failure.type === 'mapper_parsing_exception' ||
        failure.type === 'illegal_argument_exception';
      failedDocs.set(d, {
        code: conflict
          ? 'METADATA_CONFLICT'
          : failure.status >= 500
            ? 'BACKEND_UNAVAILABLE'
            : 'VALIDATION_FAILED',
        message: `document '${changed[d].doc.id}': ${failure.reason}`,
      });
    }
    const now = new Date().toISOString();
    const recordActions: Array<[object, object]> = [];
    const recorded: number[] = [];
    changed.forEach(({ doc, hash, chunks }, d) => {
      if (failedDocs.has(d)) return;
      const record: DocumentSource = {
        id: doc.id,
        ...(doc.title !== undefined ? { title: doc.title } : {}),
        text: doc.text,
        metadata: doc.metadata ?? {},
        hash,
        chunk_count: chunks.length,
        updated_at: now,
      };
      recordActions.push([{ index: { _index: documentIndex(name), _id: doc.id } }, record]);
      recorded.push(d);
    });
    const recordFailures = await this.bulk(
      recordActions,
      options,
      `write document records of '${name}'`,
    );
    for (const [action, failure] of recordFailures) {
      failedDocs.set(recorded[action], {
        code: failure.status >= 500 ? 'BACKEND_UNAVAILABLE' : 'VALIDATION_FAILED',
        message: `document '${changed[recorded[action]].doc.id}': ${failure.reason}`,
      });
    }
    // Committed documents lose the chunks of their previous version; failed ones lose the new
    // chunks that did get written, so they are back to their previous version.
    const cleanup = changed.map(({ doc, hash }, d) =>
      failedDocs.has(d)
        ? { bool: { filter: [{ term: { document_id: doc.id } }, { term: { doc_hash: hash } }] } }
        : {
            bool: {
              filter: [{ term: { document_id: doc.id } }],
              must_not: [{ term: { doc_hash: hash } }],
            },
          },
    );
    if (cleanup.length > 0) await this.deleteChunks(name, cleanup, options);
    // What the job reports stored is searchable when it completes (delete_by_query does not
    // refresh when it deletes nothing, and the records index needs its own refresh).
    if (changed.length > 0) await this.refresh(name, options);
    const outcome = new Map<string, DocumentOutcome>();
    changed.forEach(({ doc, chunks }, d) => {
      const error = failedDocs.get(d);
      outcome.set(
        doc.id,
        error
          ? { id: doc.id, status: 'failed', chunks: 0, error }
          : {
              id: doc.id,
              status: stored.has(doc.id) ? 'updated' : 'created',
              chunks: chunks.length,
            },
      );
    });
    return prepared.map(
      (p) =>
        outcome.get(p.doc.id) ?? { id: p.doc.id, status: 'unchanged', chunks: p.chunks.length },
    );
  }

  private async refresh(name: string, options: CallOptions): Promise<void> {
    await this.call(
      (o) =>
        this.client.indices.refresh(
          { index: `${chunkAlias(name)},${documentIndex(name)}` },
          o,
        ) as Pending<{ body: unknown }>,
      options,
      `refresh '${name}'`,
    );
  }

  // ---- search ---------------------------------------------------------------------------------

  private hitsOf(
    body: { hits: { hits: Array<{ _score: number; _source: ChunkSource }> } },
    score: (s: number) => number,
  ): SearchHit[] {
    return body.hits.hits.map((h, i) => ({
      id: `${h._source.document_id}#${h._source.chunk_index}`,
      documentId: h._source.document_id,
      chunkIndex: h._source.chunk_index,
      ...(h._source.title !== undefined ? { title: h._source.title } : {}),
      text: h._source.text,
      metadata: h._source.metadata ?? {},
      score: score(h._score),
      rank: i + 1,
    }));
  }

  /** BM25 (`multi_match` over title, boosted, and text), best chunk per document when grouped. */
  async bm25(
    name: string,
    query: string,
    search: SearchOptions & { withStats?: boolean },
    options: CallOptions = {},
  ): Promise<SearchResult> {
    const terms = queryTerms(query);
    if (terms.length === 0) return { hits: [], terms };
    const body = await this.call(
      (o) =>
        this.client.search(
          {
            index: chunkAlias(name),
            body: {
              size: search.topK,
              _source: { excludes: SOURCE_EXCLUDES },
              query: {
                bool: {
                  must: [
                    {
                      multi_match: {
                        query,
                        fields: [`title^${BM25_TITLE_BOOST}`, 'text'],
                        tie_breaker: BM25_TIE_BREAKER,
                      },
                    },
                  ],
                  filter: filters(search.filter),
                },
              },
              ...(search.group === 'document' ? { collapse: { field: 'document_id' } } : {}),
            },
          },
          o,
        ) as Pending<{ body: { hits: { hits: Array<{ _score: number; _source: ChunkSource }> } } }>,
      options,
      `search '${name}'`,
    );
    const hits = this.hitsOf(body, (s) => s);
    return {
      hits,
      terms,
      ...(search.withStats ? { stats: await this.stats(name, terms, options) } : {}),
    };
  }

  /** Nearest chunks to `vector` (Lucene HNSW, cosine), filters applied inside the search. */
  async knn(
    name: string,
    vector: readonly number[],
    search: SearchOptions,
    options: CallOptions = {},
  ): Promise<SearchResult> {
    const conditions = filters(search.filter);
    // Collapsing keeps one chunk per document: ask for more neighbours so topK documents remain.
    const k = search.group === 'document' ? Math.min(search.topK * 4, 10_000) : search.topK;
    const body = await this.call(
      (o) =>
        this.client.search(
          {
            index: chunkAlias(name),
            body: {
              size: search.topK,
              _source: { excludes: SOURCE_EXCLUDES },
              query: {
                knn: {
                  embedding: {
                    vector: [...vector],
                    k,
                    ...(conditions.length > 0 ? { filter: { bool: { filter: conditions } } } : {}),
                  },
                },
              },
              ...(search.group === 'document' ? { collapse: { field: 'document_id' } } : {}),
            },
          },
          o,
        ) as Pending<{ body: { hits: { hits: Array<{ _score: number; _source: ChunkSource }> } } }>,
      options,
      `knn search '${name}'`,
    );
    return { hits: this.hitsOf(body, cosineOf), terms: [] };
  }

  /** Chunk count, average analyzed length and document frequency of the terms (for reranking). */
  async stats(
    name: string,
    terms: readonly string[],
    options: CallOptions = {},
  ): Promise<CorpusStats> {
    const body = await this.call(
      (o) =>
        this.client.msearch(
          {
            index: chunkAlias(name),
            // The client's msearch item type does not admit aggregations.
            body: [
              {},
              {
                size: 0,
                track_total_hits: true,
                aggs: { length: { avg: { field: 'term_count' } } },
              },
              ...terms.flatMap((t) => [
                {},
                { size: 0, track_total_hits: true, query: { term: { terms: t } } },
              ]),
            ] as never,
          },
          o,
        ) as Pending<{
          body: {
            responses: Array<{
              hits?: { total: { value: number } };
              aggregations?: { length: { value: number | null } };
            }>;
          };
        }>,
      options,
      `statistics of '${name}'`,
    );
    const [all, ...perTerm] = body.responses;
    const documentFrequency: Record<string, number> = {};
    terms.forEach((t, i) => (documentFrequency[t] = perTerm[i]?.hits?.total.value ?? 0));
    return {
      documentCount: all.hits?.total.value ?? 0,
      averageLength: all.aggregations?.length.value ?? 0,
      documentFrequency,
    };
  }
}
