import type { EncodingName, Metadata } from '../limits.js';
import type { SerializedError } from '../errors.js';
import type {
  CompareEvaluationsPayload,
  Comparison,
  EvaluationJobResult,
  EvaluationPayload,
} from './evaluation.js';

/**
 * Queues and the jobs on them. Queue names are stable forever: renaming one strands jobs already
 * in Redis and breaks KEDA triggers. Add new names; never rename or reuse one.
 */
export const QUEUES = ['ingest', 'search', 'rerank', 'pack', 'eval'] as const;
export type QueueName = (typeof QUEUES)[number];

export interface JobSpec<P, R> {
  payload: P;
  result: R;
}

// ---- ingest ----------------------------------------------------------------------------------

export interface IngestDocument {
  id: string;
  title?: string;
  text: string;
  metadata?: Metadata;
}

export interface CollectionRef {
  /**
   * Internal id in the embedded store; the FTS table of a collection is named after it, never
   * after the user's name. 0 for a collection on OpenSearch (its indices are named after it).
   */
  id: number;
  name: string;
  /** Absent: sqlite (jobs written before there was a choice). */
  backend?: 'sqlite' | 'opensearch';
}

export interface ChunkingSettings {
  chunkSize: number;
  chunkOverlap: number;
  encoding: EncodingName;
}

/** The embedding model a collection's vectors come from, fixed when the collection is created. */
export interface EmbeddingSpec {
  model: string;
  dimensions: number;
}

export interface IngestPayload {
  version: 1;
  collection: CollectionRef;
  chunking: ChunkingSettings;
  /** Set: each chunk is embedded with this model as part of the job. */
  embedding?: EmbeddingSpec;
  documents: IngestDocument[];
}

export type IngestDocumentStatus = 'created' | 'updated' | 'unchanged' | 'failed';

export interface IngestResult {
  collection: string;
  created: number;
  updated: number;
  unchanged: number;
  chunks: number;
  /** Documents refused by the backend (OpenSearch stores the rest of the batch). */
  failed?: number;
  documents: Array<{
    id: string;
    status: IngestDocumentStatus;
    chunks: number;
    error?: SerializedError;
  }>;
}

/** Writes to the embedded store other than ingest; they share the ingest queue (one writer path). */
export interface CreateCollectionPayload {
  version: 1;
  name: string;
  chunking: ChunkingSettings;
  embedding?: EmbeddingSpec;
}

export interface CollectionSummary {
  id: number;
  name: string;
  chunkSize: number;
  chunkOverlap: number;
  encoding: EncodingName;
  documentCount: number;
  chunkCount: number;
  embedding?: EmbeddingSpec;
  createdAt: string;
  updatedAt: string;
}

export interface DeleteCollectionPayload {
  version: 1;
  name: string;
}

export interface DeleteDocumentPayload {
  version: 1;
  collection: CollectionRef;
  documentId: string;
}

// ---- search ----------------------------------------------------------------------------------

export interface SearchPayload {
  version: 1;
  collection: CollectionRef;
  query: string;
  topK: number;
  filter?: Metadata;
  group: 'chunk' | 'document';
  /** Return corpus statistics for the query terms (rerankers use them for IDF). */
  withStats?: boolean;
}

/** Nearest chunks to a query vector (dense retrieval on the embedded store). */
export interface KnnPayload {
  version: 1;
  collection: CollectionRef;
  vector: number[];
  topK: number;
  filter?: Metadata;
  group: 'chunk' | 'document';
}

export interface SearchHit {
  /** `${documentId}#${chunkIndex}` */
  id: string;
  documentId: string;
  chunkIndex: number;
  title?: string;
  text: string;
  metadata: Metadata;
  /** The leg's own score, higher is better: BM25, or cosine similarity for dense hits. */
  score: number;
  rank: number;
}

export interface CorpusStats {
  documentCount: number;
  averageLength: number;
  documentFrequency: Record<string, number>;
}

export interface SearchResult {
  hits: SearchHit[];
  terms: string[];
  stats?: CorpusStats;
}

// ---- rerank ----------------------------------------------------------------------------------

export interface RerankCandidate {
  id: string;
  text: string;
  title?: string;
  score?: number;
}

export interface RerankPayload {
  version: 1;
  query: string;
  candidates: RerankCandidate[];
  topK: number;
  method: string;
  /**
   * Weights of the `keel` combination's features (first, bm25, proximity, title, coverage,
   * feedback).
   */
  weights?: Record<string, number>;
  mmrLambda?: number;
  stats?: CorpusStats;
}

export interface RerankedItem {
  id: string;
  score: number;
  rank: number;
  features: Record<string, number>;
}

export interface RerankResult {
  results: RerankedItem[];
}

// ---- pack ------------------------------------------------------------------------------------

export interface PackPassage {
  id: string;
  text: string;
  score?: number;
  title?: string;
  documentId?: string;
}

export interface PackPayload {
  version: 1;
  query: string;
  passages: PackPassage[];
  budgetTokens: number;
  encoding: EncodingName;
  template?: string;
  /** Also compute the extractive answer from the packed context (saves a second hop). */
  extractiveAnswer?: boolean;
}

export interface Citation {
  marker: number;
  id: string;
  documentId?: string;
  title?: string;
}

export interface PackedPassage {
  id: string;
  marker: number;
  tokens: number;
  truncated: boolean;
  text: string;
}

export interface PackResult {
  prompt: string;
  tokens: number;
  encoding: EncodingName;
  included: PackedPassage[];
  dropped: Array<{ id: string; reason: 'duplicate' | 'budget' }>;
  citations: Citation[];
  answer?: { text: string; citations: Citation[] };
}

// ---- the map ---------------------------------------------------------------------------------

export interface JobMap {
  ingest: {
    'ingest-documents': JobSpec<IngestPayload, IngestResult>;
    'create-collection': JobSpec<CreateCollectionPayload, CollectionSummary>;
    'delete-collection': JobSpec<DeleteCollectionPayload, { deleted: boolean }>;
    'delete-document': JobSpec<DeleteDocumentPayload, { deleted: boolean }>;
  };
  search: { bm25: JobSpec<SearchPayload, SearchResult>; knn: JobSpec<KnnPayload, SearchResult> };
  rerank: { rerank: JobSpec<RerankPayload, RerankResult> };
  pack: { pack: JobSpec<PackPayload, PackResult> };
  eval: {
    'run-evaluation': JobSpec<EvaluationPayload, EvaluationJobResult>;
    'compare-evaluations': JobSpec<CompareEvaluationsPayload, Comparison>;
  };
}

export type JobName<Q extends QueueName> = keyof JobMap[Q] & string;
type SpecOf<Q extends QueueName, N extends JobName<Q>> =
  JobMap[Q][N] extends JobSpec<infer P, infer R> ? JobSpec<P, R> : never;
export type JobPayload<Q extends QueueName, N extends JobName<Q>> = SpecOf<Q, N>['payload'];
export type JobResult<Q extends QueueName, N extends JobName<Q>> = SpecOf<Q, N>['result'];

/** Every job name, at run time: the processor registry checks each has exactly one handler. */
export const JOB_NAMES: { readonly [Q in QueueName]: readonly JobName<Q>[] } = {
  ingest: ['ingest-documents', 'create-collection', 'delete-collection', 'delete-document'],
  search: ['bm25', 'knn'],
  rerank: ['rerank'],
  pack: ['pack'],
  eval: ['run-evaluation', 'compare-evaluations'],
};

// ---- job records -----------------------------------------------------------------------------

export const JOB_STATES = ['waiting', 'active', 'completed', 'failed', 'cancelled'] as const;
export type JobState = (typeof JOB_STATES)[number];

export interface JobRecord<R = unknown> {
  id: string;
  queue: QueueName;
  name: string;
  state: JobState;
  progress: number;
  result?: R;
  error?: SerializedError;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  requestId?: string;
}
