import { Injectable } from '@nestjs/common';
import {
  KeelError,
  type CorpusStats,
  type RetrieveRequestDto,
  type RetrieveResponseDto,
  type SearchHit,
} from '@keel/contracts';
import { JobRunner } from '@keel/jobs';
import type { RequestContext } from '@keel/platform';
import { CollectionsService } from './collections.service.js';

export interface RetrievalOutcome {
  response: RetrieveResponseDto;
  /** The raw hits and corpus statistics, for the reranker. */
  hits: SearchHit[];
  stats?: CorpusStats;
}

export const DEFAULT_TOP_K = 10;

@Injectable()
export class RetrievalService {
  constructor(
    private readonly collections: CollectionsService,
    private readonly jobs: JobRunner,
  ) {}

  /** 400 DENSE_UNAVAILABLE for a mode this deployment cannot serve. */
  requireMode(mode: string): asserts mode is 'bm25' {
    if (mode !== 'bm25') {
      // Dense and hybrid need an embedding endpoint, which this build does not talk to yet.
      throw new KeelError(
        'DENSE_UNAVAILABLE',
        `mode '${mode}' needs an embedding server; this deployment has none configured, use mode 'bm25'`,
      );
    }
  }

  async retrieve(
    request: RetrieveRequestDto & { withStats?: boolean },
    ctx: RequestContext,
  ): Promise<RetrievalOutcome> {
    const mode = request.mode ?? 'bm25';
    this.requireMode(mode);
    const collection = this.collections.require(request.collection);
    const started = performance.now();
    const result = await this.jobs.run(
      'search',
      'bm25',
      {
        version: 1,
        collection: { id: collection.id, name: collection.name },
        query: request.query,
        topK: request.topK ?? DEFAULT_TOP_K,
        group: request.group ?? 'chunk',
        ...(request.filter ? { filter: request.filter } : {}),
        ...(request.withStats ? { withStats: true } : {}),
      },
      ctx,
    );
    const bm25 = performance.now() - started;
    return {
      hits: result.hits,
      stats: result.stats,
      response: {
        hits: result.hits.map((h) => ({
          id: h.id,
          documentId: h.documentId,
          chunkIndex: h.chunkIndex,
          ...(h.title !== undefined ? { title: h.title } : {}),
          text: h.text,
          metadata: h.metadata,
          score: h.score,
          legs: { bm25: { rank: h.rank, score: h.score } },
        })),
        mode,
        degraded: false,
        failedLegs: [],
        timings: { bm25: round(bm25) },
      },
    };
  }
}

export function round(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
