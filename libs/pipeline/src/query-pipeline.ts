import { Injectable } from '@nestjs/common';
import type { QueryRequestDto, QueryResponseDto, RerankedItem, SearchHit } from '@keel/contracts';
import type { RequestContext } from '@keel/platform';
import { RetrievalService, round } from '@keel/retrieval';
import { PackService } from './pack.service.js';
import { DEFAULT_RERANK_METHOD, RerankService } from './rerank.service.js';

export const QUERY_DEFAULTS = {
  topK: 50,
  contextTopK: 8,
  budgetTokens: 3_000,
  encoding: 'o200k_base',
} as const;

/**
 * The whole query path, one use case (STYLE.md #14): retrieve → rerank → pack → answer. Each CPU
 * step is a job, so the API thread only moves data between them. Without an LLM the answer is
 * extractive: the best sentences of the packed context, with their citation markers.
 */
@Injectable()
export class AnswerQuery {
  constructor(
    private readonly retrieval: RetrievalService,
    private readonly reranker: RerankService,
    private readonly packer: PackService,
  ) {}

  async execute(dto: QueryRequestDto, ctx: RequestContext): Promise<QueryResponseDto> {
    const started = performance.now();
    const method = dto.rerank ?? DEFAULT_RERANK_METHOD;
    const contextTopK = dto.contextTopK ?? QUERY_DEFAULTS.contextTopK;

    const retrieved = await this.retrieval.retrieve(
      {
        collection: dto.collection,
        query: dto.query,
        topK: dto.topK ?? QUERY_DEFAULTS.topK,
        mode: dto.mode ?? 'bm25',
        group: dto.groupByDocument === false ? 'chunk' : 'document',
        ...(dto.filter ? { filter: dto.filter } : {}),
        withStats: method !== 'none',
      },
      ctx,
    );
    const afterRetrieve = performance.now();

    const byId = new Map<string, SearchHit>(retrieved.hits.map((h) => [h.id, h]));
    let ranked: Array<{ hit: SearchHit; score: number }>;
    if (method === 'none' || retrieved.hits.length === 0) {
      ranked = retrieved.hits.slice(0, contextTopK).map((hit) => ({ hit, score: hit.score }));
    } else {
      const reranked: RerankedItem[] = await this.reranker.rerank(
        dto.query,
        retrieved.hits.map((h) => ({
          id: h.id,
          text: h.text,
          score: h.score,
          ...(h.title !== undefined ? { title: h.title } : {}),
        })),
        { method, topK: contextTopK, ...(retrieved.stats ? { stats: retrieved.stats } : {}) },
        ctx,
      );
      ranked = reranked.map((r) => ({ hit: byId.get(r.id)!, score: r.score }));
    }
    const afterRerank = performance.now();

    const packed = await this.packer.pack(
      {
        query: dto.query,
        passages: ranked.map(({ hit, score }) => ({
          id: hit.id,
          text: hit.text,
          score,
          documentId: hit.documentId,
          ...(hit.title !== undefined ? { title: hit.title } : {}),
        })),
        budgetTokens: dto.budgetTokens ?? QUERY_DEFAULTS.budgetTokens,
        encoding: dto.encoding ?? QUERY_DEFAULTS.encoding,
        extractiveAnswer: true,
      },
      ctx,
    );
    const done = performance.now();

    const scoreOf = new Map(ranked.map(({ hit, score }) => [hit.id, score]));
    const answer = packed.answer ?? { text: '', citations: [] };
    return {
      answer: answer.text,
      mode: 'extractive',
      citations: answer.citations,
      contexts: packed.included.map((p) => {
        const hit = byId.get(p.id)!;
        return {
          marker: p.marker,
          id: p.id,
          documentId: hit.documentId,
          ...(hit.title !== undefined ? { title: hit.title } : {}),
          text: p.text,
          score: scoreOf.get(p.id) ?? hit.score,
          truncated: p.truncated,
        };
      }),
      usage: { promptTokens: packed.tokens, completionTokens: 0 },
      timings: {
        retrieve: round(afterRetrieve - started),
        rerank: round(afterRerank - afterRetrieve),
        pack: round(done - afterRerank),
        total: round(done - started),
      },
    };
  }
}
