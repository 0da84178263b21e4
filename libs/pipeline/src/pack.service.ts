import { Injectable } from '@nestjs/common';
import type { PackPayload, PackRequestDto, PackResponseDto, PackResult } from '@keel/contracts';
import { JobRunner } from '@keel/jobs';
import type { RequestContext } from '@keel/platform';
import { round } from '@keel/retrieval';

@Injectable()
export class PackService {
  constructor(private readonly jobs: JobRunner) {}

  async pack(payload: Omit<PackPayload, 'version'>, ctx: RequestContext): Promise<PackResult> {
    return this.jobs.run('pack', 'pack', { version: 1, ...payload }, ctx);
  }

  async handle(dto: PackRequestDto, ctx: RequestContext): Promise<PackResponseDto> {
    const started = performance.now();
    const result = await this.pack(
      {
        query: dto.query,
        passages: dto.passages,
        budgetTokens: dto.budgetTokens,
        encoding: dto.encoding ?? 'o200k_base',
        ...(dto.template !== undefined ? { template: dto.template } : {}),
      },
      ctx,
    );
    return {
      prompt: result.prompt,
      tokens: result.tokens,
      encoding: result.encoding,
      included: result.included,
      dropped: result.dropped,
      citations: result.citations,
      timings: { pack: round(performance.now() - started) },
    };
  }
}
