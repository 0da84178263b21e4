import { Injectable } from '@nestjs/common';
import type {
  CorpusStats,
  RerankCandidate,
  RerankedItem,
  RerankMethodName,
  RerankRequestDto,
  RerankResponseDto,
} from '@keel/contracts';
import { JobRunner } from '@keel/jobs';
import type { RequestContext } from '@keel/platform';
import { round } from '@keel/retrieval';

export const DEFAULT_RERANK_METHOD: RerankMethodName = 'keel';

@Injectable()
export class RerankService {
  constructor(private readonly jobs: JobRunner) {}

  async rerank(
    query: string,
    candidates: RerankCandidate[],
    options: { method: RerankMethodName; topK: number; mmrLambda?: number; stats?: CorpusStats },
    ctx: RequestContext,
  ): Promise<RerankedItem[]> {
    const { results } = await this.jobs.run(
      'rerank',
      'rerank',
      {
        version: 1,
        query,
        candidates,
        topK: options.topK,
        method: options.method,
        ...(options.mmrLambda !== undefined ? { mmrLambda: options.mmrLambda } : {}),
        ...(options.stats ? { stats: options.stats } : {}),
      },
      ctx,
    );
    return results;
  }

  async handle(dto: RerankRequestDto, ctx: RequestContext): Promise<RerankResponseDto> {
    const started = performance.now();
    const method = dto.method ?? DEFAULT_RERANK_METHOD;
    const results = await this.rerank(
      dto.query,
      dto.candidates,
      {
        method,
        topK: dto.topK ?? dto.candidates.length,
        ...(dto.mmrLambda !== undefined ? { mmrLambda: dto.mmrLambda } : {}),
      },
      ctx,
    );
    return { results, method, timings: { rerank: round(performance.now() - started) } };
  }
}
