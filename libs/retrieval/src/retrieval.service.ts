import { Inject, Injectable, Optional } from '@nestjs/common';
import {
  KeelError,
  type CorpusStats,
  type EmbedFunction,
  type RetrieveRequestDto,
  type RetrieveResponseDto,
  type SearchHit,
} from '@keel/contracts';
import { JobRunner } from '@keel/jobs';
import type { RequestContext } from '@keel/platform';
import { CollectionsService, refOf } from './collections.service.js';
import { embedQuery, openSearchLegs } from './legs.js';
import {
  retrieve,
  type LegRequest,
  type Retrieval,
  type RetrievalLegs,
  type RetrievalMode,
  type RetrieveSpec,
} from './retriever.js';
import { OPENSEARCH, QUERY_EMBEDDER } from './retrieval.tokens.js';
import type { Collection } from './collections.service.js';
import type { OpenSearchBackend } from './opensearch/opensearch-backend.js';

export interface RetrievalOutcome {
  response: RetrieveResponseDto;
  /** The raw hits and corpus statistics, for the reranker. */
  hits: SearchHit[];
  stats?: CorpusStats;
}

export const DEFAULT_TOP_K = 10;

/**
 * Retrieval over one collection: the legs its mode needs (BM25 as a search job, dense as a query
 * embedding and a knn job), run and fused by `retrieve`. The API thread only waits.
 */
@Injectable()
export class RetrievalService {
  constructor(
    private readonly collections: CollectionsService,
    private readonly jobs: JobRunner,
    @Optional() @Inject(QUERY_EMBEDDER) private readonly embed?: EmbedFunction,
    @Optional() @Inject(OPENSEARCH) private readonly opensearch?: OpenSearchBackend,
  ) {}

  /** 400 DENSE_UNAVAILABLE for a mode this collection or deployment cannot serve. */
  checkMode(collection: Collection, mode: RetrievalMode): void {
    if (mode === 'bm25') return;
    if (!this.embed) {
      throw new KeelError(
        'DENSE_UNAVAILABLE',
        `mode '${mode}' needs an embedding server; this deployment has none (EMBEDDINGS_URL), use mode 'bm25'`,
      );
    }
    if (!collection.embedding) {
      throw new KeelError(
        'DENSE_UNAVAILABLE',
        `collection '${collection.name}' has no vectors (created without an embedding model); use mode 'bm25'`,
      );
    }
  }

  /**
   * The legs of one collection under the request's context: on the embedded store, BM25 and knn
   * as search jobs (CPU in the pool); on OpenSearch, calls to the cluster (I/O, no job).
   */
  legsFor(collection: Collection, ctx: RequestContext): RetrievalLegs {
    if (collection.backend === 'opensearch') {
      return openSearchLegs(this.opensearchOrFail(), collection, this.embed);
    }
    const ref = refOf(collection);
    const embed = this.embed;
    const embedding = collection.embedding;
    const job = (r: LegRequest) => ({
      deadline: r.deadline,
      signal: r.signal,
      requestId: ctx.requestId,
    });
    const legs: RetrievalLegs = {
      bm25: (r) =>
        this.jobs.run(
          'search',
          'bm25',
          {
            version: 1,
            collection: ref,
            query: r.query,
            topK: r.topK,
            group: r.group,
            ...(r.filter ? { filter: r.filter } : {}),
            ...(r.withStats ? { withStats: true } : {}),
          },
          job(r),
        ),
    };
    if (embed && embedding) {
      legs.dense = async (r) =>
        this.jobs.run(
          'search',
          'knn',
          {
            version: 1,
            collection: ref,
            vector: await embedQuery(embed, embedding, collection.name, r),
            topK: r.topK,
            group: r.group,
            ...(r.filter ? { filter: r.filter } : {}),
          },
          job(r),
        );
    }
    return legs;
  }

  private opensearchOrFail(): OpenSearchBackend {
    if (!this.opensearch) {
      throw new KeelError(
        'BACKEND_UNAVAILABLE',
        'this collection lives on OpenSearch, which is not configured',
      );
    }
    return this.opensearch;
  }

  /** Retrieval for the pipeline: the context's deadline and signal apply. */
  run(
    collection: Collection,
    spec: Omit<RetrieveSpec, 'deadline' | 'signal'>,
    ctx: RequestContext,
  ): Promise<Retrieval> {
    this.checkMode(collection, spec.mode);
    return retrieve(this.legsFor(collection, ctx), {
      ...spec,
      deadline: ctx.deadline,
      signal: ctx.signal,
    });
  }

  async retrieve(
    request: RetrieveRequestDto & { withStats?: boolean },
    ctx: RequestContext,
  ): Promise<RetrievalOutcome> {
    const mode = request.mode ?? 'bm25';
    const collection = await this.collections.require(request.collection, ctx);
    const started = performance.now();
    const fusion = request.fusion;
    const result = await this.run(
      collection,
      {
        query: request.query,
        topK: request.topK ?? DEFAULT_TOP_K,
        mode,
        group: request.group ?? 'chunk',
        ...(request.filter ? { filter: request.filter } : {}),
        ...(fusion
          ? {
              fusion: {
                method: fusion.method ?? 'rrf',
                ...(fusion.k !== undefined ? { k: fusion.k } : {}),
                ...(fusion.weights ? { weights: { ...fusion.weights } } : {}),
              },
            }
          : {}),
        ...(request.withStats ? { withStats: true } : {}),
      },
      ctx,
    );
    const total = performance.now() - started;
    const timings: Record<string, number> = { total: round(total) };
    for (const [leg, report] of Object.entries(result.legs)) timings[leg] = report.ms;
    return {
      hits: result.hits,
      ...(result.stats ? { stats: result.stats } : {}),
      response: {
        hits: result.hits.map((h) => ({
          id: h.id,
          documentId: h.documentId,
          chunkIndex: h.chunkIndex,
          ...(h.title !== undefined ? { title: h.title } : {}),
          text: h.text,
          metadata: h.metadata,
          score: h.score,
          legs: h.legs,
        })),
        mode,
        degraded: result.degraded,
        failedLegs: result.failedLegs,
        legs: result.legs,
        timings,
      },
    };
  }
}

export function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
