// Job processors of the retrieval lib: pure functions over the embedded store, run in pool
// threads (never on the API event loop). Nest-free: this entry is what worker threads load.
import {
  defineProcessor,
  KeelError,
  type EmbeddingSpec,
  type IngestPayload,
  type IngestResult,
  type ProcessorContext,
} from '@keel/contracts/jobs';
import { getTokenizer } from '@keel/text';
import { chunkText } from './chunking/index.js';
import type { OpenSearchBackend } from './opensearch/opensearch-backend.js';
import { documentHash, SqliteStore, type PreparedDocument } from './sqlite/sqlite-store.js';

const stores = new Map<string, SqliteStore>();

/** One connection per thread and data directory, opened on first use. */
export function storeFor(context: Pick<ProcessorContext, 'dataDir'>): SqliteStore {
  let store = stores.get(context.dataDir);
  if (!store) {
    store = SqliteStore.open(context.dataDir);
    stores.set(context.dataDir, store);
  }
  return store;
}

export function closeStores(): void {
  for (const store of stores.values()) store.close();
  stores.clear();
}

function checkAborted(signal: AbortSignal): void {
  if (signal.aborted) throw new KeelError('CANCELLED', 'the job was cancelled');
}

/**
 * Embeds the chunks of the documents that changed, as part of the ingest job: their vectors are
 * written in the same transaction as their text, so a document never has text without vectors.
 */
async function embedChunks(
  prepared: PreparedDocument[],
  embedding: EmbeddingSpec,
  context: ProcessorContext,
): Promise<void> {
  const chunks = prepared.flatMap((p) => p.chunks);
  if (chunks.length === 0) return;
  if (!context.embed) {
    throw new KeelError(
      'DENSE_UNAVAILABLE',
      'this collection has vectors but this process has no embedding server (EMBEDDINGS_URL)',
    );
  }
  const { model, vectors } = await context.embed(
    chunks.map((c) => c.text),
    {
      purpose: 'document',
      signal: context.signal,
      ...(context.deadline ? { deadline: context.deadline } : {}),
    },
  );
  if (model !== embedding.model) {
    throw new KeelError(
      'EMBEDDINGS_INVALID',
      `the embedding server serves '${model}'; collection vectors come from '${embedding.model}'`,
    );
  }
  chunks.forEach((chunk, i) => {
    if (vectors[i]?.length !== embedding.dimensions) {
      throw new KeelError(
        'EMBEDDINGS_INVALID',
        `the embedding server returned ${vectors[i]?.length ?? 0} dimensions; the collection has ${embedding.dimensions}`,
      );
    }
    chunk.vector = vectors[i];
  });
}

const backends = new Map<string, Promise<OpenSearchBackend>>();

/**
 * One OpenSearch client per thread and cluster, made on first use. The client's modules load
 * only then: threads of a deployment without OpenSearch never pay for them.
 */
export function opensearchFor(
  context: Pick<ProcessorContext, 'opensearch'>,
): Promise<OpenSearchBackend> {
  const config = context.opensearch;
  if (!config) {
    return Promise.reject(
      new KeelError(
        'BACKEND_UNAVAILABLE',
        'this collection lives on OpenSearch but this process has no OPENSEARCH_URL',
      ),
    );
  }
  let backend = backends.get(config.url);
  if (!backend) {
    backend = import('./opensearch/opensearch-backend.js').then(
      ({ OpenSearchBackend }) =>
        new OpenSearchBackend(config.url, {
          timeoutMs: config.timeoutMs,
          replicas: config.replicas,
        }),
    );
    backends.set(config.url, backend);
  }
  return backend;
}

/** Chunks every document whose content changed (CPU: the bulk of an ingest job). */
async function chunkChanged(
  payload: IngestPayload,
  stored: ReadonlyMap<string, string>,
  context: ProcessorContext,
): Promise<PreparedDocument[]> {
  const tokenizer = getTokenizer(payload.chunking.encoding);
  const prepared: PreparedDocument[] = [];
  const total = payload.documents.length;
  for (const [i, doc] of payload.documents.entries()) {
    const hash = documentHash(doc, payload.chunking);
    const chunks =
      stored.get(doc.id) === hash
        ? []
        : chunkText(doc.text, {
            chunkSize: payload.chunking.chunkSize,
            chunkOverlap: payload.chunking.chunkOverlap,
            tokenizer,
          });
    prepared.push({ doc, hash, chunks });
    if (i % 50 === 49) {
      // Chunking is most of the work; the write is the last step.
      context.progress((0.9 * (i + 1)) / total);
      checkAborted(context.signal);
      // A macrotask turn, so a cancel message on the thread's port is delivered (a resolved
      // promise would only run microtasks).
      await new Promise((resolve) => setImmediate(resolve));
    }
  }
  checkAborted(context.signal);
  return prepared;
}

function summarize(collection: string, documents: IngestResult['documents']): IngestResult {
  const count = (status: string) => documents.filter((d) => d.status === status).length;
  const failed = count('failed');
  return {
    collection,
    created: count('created'),
    updated: count('updated'),
    unchanged: count('unchanged'),
    ...(failed > 0 ? { failed } : {}),
    chunks: documents
      .filter((d) => d.status === 'created' || d.status === 'updated')
      .reduce((n, d) => n + d.chunks, 0),
    documents,
  };
}

async function ingestIntoSqlite(
  payload: IngestPayload,
  context: ProcessorContext,
): Promise<IngestResult> {
  const store = storeFor(context);
  const collection = store.getCollection(payload.collection.name);
  if (!collection || collection.id !== payload.collection.id) {
    throw new KeelError(
      'COLLECTION_NOT_FOUND',
      `collection '${payload.collection.name}' does not exist`,
    );
  }
  const stored = store.storedHashes(
    collection.id,
    payload.documents.map((d) => d.id),
  );
  const prepared = await chunkChanged(payload, stored, context);
  if (collection.embedding) await embedChunks(prepared, collection.embedding, context);
  checkAborted(context.signal);
  const documents = store.upsertDocuments(collection, prepared);
  context.progress(1);
  return summarize(collection.name, documents);
}

async function ingestIntoOpenSearch(
  payload: IngestPayload,
  context: ProcessorContext,
): Promise<IngestResult> {
  const backend = await opensearchFor(context);
  const call = {
    signal: context.signal,
    ...(context.deadline ? { deadline: context.deadline } : {}),
  };
  const collection = await backend.getCollection(payload.collection.name, call);
  if (!collection) {
    throw new KeelError(
      'COLLECTION_NOT_FOUND',
      `collection '${payload.collection.name}' does not exist`,
    );
  }
  const stored = await backend.storedHashes(
    collection.name,
    payload.documents.map((d) => d.id),
    call,
  );
  const prepared = await chunkChanged(payload, stored, context);
  if (collection.embedding) await embedChunks(prepared, collection.embedding, context);
  checkAborted(context.signal);
  const documents = await backend.upsertDocuments(collection, prepared, stored, call);
  context.progress(1);
  return summarize(collection.name, documents);
}

export const ingestDocumentsProcessor = defineProcessor({
  queue: 'ingest',
  name: 'ingest-documents',
  handle: (payload, context) =>
    payload.collection.backend === 'opensearch'
      ? ingestIntoOpenSearch(payload, context)
      : ingestIntoSqlite(payload, context),
});

export const createCollectionProcessor = defineProcessor({
  queue: 'ingest',
  name: 'create-collection',
  handle: async (payload, context) => {
    const c = storeFor(context).createCollection(payload.name, payload.chunking, payload.embedding);
    return Promise.resolve({
      id: c.id,
      name: c.name,
      chunkSize: c.chunkSize,
      chunkOverlap: c.chunkOverlap,
      encoding: c.encoding,
      documentCount: c.documentCount,
      chunkCount: c.chunkCount,
      ...(c.embedding ? { embedding: c.embedding } : {}),
      createdAt: c.createdAt,
      updatedAt: c.updatedAt,
    });
  },
});

export const deleteCollectionProcessor = defineProcessor({
  queue: 'ingest',
  name: 'delete-collection',
  handle: async (payload, context) =>
    Promise.resolve({ deleted: storeFor(context).deleteCollection(payload.name) }),
});

export const deleteDocumentProcessor = defineProcessor({
  queue: 'ingest',
  name: 'delete-document',
  handle: async (payload, context) => {
    const store = storeFor(context);
    const collection = store.requireCollection(payload.collection.name);
    return Promise.resolve({ deleted: store.deleteDocument(collection, payload.documentId) });
  },
});

export const bm25SearchProcessor = defineProcessor({
  queue: 'search',
  name: 'bm25',
  handle: async (payload, context) => {
    const store = storeFor(context);
    const { hits, terms } = store.search(payload.collection.id, payload.query, {
      topK: payload.topK,
      filter: payload.filter,
      group: payload.group,
    });
    return Promise.resolve({
      hits,
      terms,
      ...(payload.withStats ? { stats: store.stats(payload.collection.id, terms) } : {}),
    });
  },
});

export const knnSearchProcessor = defineProcessor({
  queue: 'search',
  name: 'knn',
  handle: async (payload, context) =>
    Promise.resolve({
      hits: storeFor(context).knn(payload.collection.id, payload.vector, {
        topK: payload.topK,
        group: payload.group,
        ...(payload.filter ? { filter: payload.filter } : {}),
      }),
      terms: [],
    }),
});

export const RETRIEVAL_PROCESSORS = [
  ingestDocumentsProcessor,
  createCollectionProcessor,
  deleteCollectionProcessor,
  deleteDocumentProcessor,
  bm25SearchProcessor,
  knnSearchProcessor,
];

export { SqliteStore, documentHash, BM25_TITLE_WEIGHT } from './sqlite/sqlite-store.js';
export type { CollectionRow, PreparedDocument, StoredDocument } from './sqlite/sqlite-store.js';
export { chunkText } from './chunking/index.js';
export { retrieve, legDepth, LEG_DEADLINE_SHARE } from './retriever.js';
export type {
  FusionSettings,
  LegName,
  LegReport,
  LegRequest,
  Retrieval,
  RetrievalLegs,
  RetrievalMode,
  RetrieveSpec,
  RetrievedHit,
} from './retriever.js';
export { fuse, DEFAULT_RRF_K, FUSION_METHODS } from './fusion.js';
export type { FusionMethod } from './fusion.js';
export type {
  OpenSearchBackend,
  OpenSearchCollection,
  DocumentOutcome,
} from './opensearch/opensearch-backend.js';
export { embedQuery, openSearchLegs } from './legs.js';
