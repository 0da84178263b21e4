import { Injectable } from '@nestjs/common';
import type { QueryRequestDto, QueryResponseDto } from '@keel/contracts';
import { JobRunner } from '@keel/jobs';
import type { RequestContext } from '@keel/platform';
import { CollectionsService, RetrievalService, round, type Collection } from '@keel/retrieval';
import { packAnswer, QUERY_DEFAULTS, rankPassages, type PipelineSteps } from './core.js';

/** The steps over one collection as jobs and calls, under one request's deadline and signal. */
export function jobSteps(
  jobs: JobRunner,
  retrieval: RetrievalService,
  collection: Collection,
  ctx: RequestContext,
): PipelineSteps {
  return {
    retrieve: (spec) => retrieval.run(collection, spec, ctx),
    rerank: (payload) => jobs.run('rerank', 'rerank', payload, ctx),
    pack: (payload) => jobs.run('pack', 'pack', payload, ctx),
  };
}

/**
 * The whole query path, one use case (STYLE.md #14): retrieve → rerank → pack → answer. Each CPU
 * step is a job, so the API thread only moves data between them. Without an LLM the answer is
 * extractive: the best sentences of the packed context, with their citation markers.
 */
@Injectable()
export class AnswerQuery {
  constructor(
    private readonly collections: CollectionsService,
    private readonly retrieval: RetrievalService,
    private readonly jobs: JobRunner,
  ) {}

  async execute(dto: QueryRequestDto, ctx: RequestContext): Promise<QueryResponseDto> {
    const started = performance.now();
    const mode = dto.mode ?? 'bm25';
    const collection = await this.collections.require(dto.collection, ctx);
    this.retrieval.checkMode(collection, mode);
    const steps = jobSteps(this.jobs, this.retrieval, collection, ctx);
    const { ranked, hits, timings, retrieval } = await rankPassages(steps, {
      mode,
      query: dto.query,
      topK: dto.topK ?? QUERY_DEFAULTS.topK,
      group: dto.groupByDocument === false ? 'chunk' : 'document',
      ...(dto.filter ? { filter: dto.filter } : {}),
      rerank: dto.rerank ?? QUERY_DEFAULTS.rerank,
      keep: dto.contextTopK ?? QUERY_DEFAULTS.contextTopK,
    });
    const afterRerank = performance.now();
    const packed = await packAnswer(steps, {
      query: dto.query,
      ranked,
      budgetTokens: dto.budgetTokens ?? QUERY_DEFAULTS.budgetTokens,
      encoding: dto.encoding ?? QUERY_DEFAULTS.encoding,
    });
    const done = performance.now();

    const scoreOf = new Map(ranked.map(({ hit, score }) => [hit.id, score]));
    const answer = packed.answer ?? { text: '', citations: [] };
    return {
      answer: answer.text,
      mode: 'extractive',
      citations: answer.citations,
      contexts: packed.included.map((p) => {
        const hit = hits.get(p.id)!;
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
      degraded: retrieval.degraded,
      failedLegs: retrieval.failedLegs,
      timings: {
        retrieve: round(timings.retrieve),
        rerank: round(timings.rerank),
        pack: round(done - afterRerank),
        total: round(done - started),
      },
    };
  }
}
