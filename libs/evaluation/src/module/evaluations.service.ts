import { Inject, Injectable } from '@nestjs/common';
import {
  KeelError,
  type Comparison,
  type EvaluationDto,
  type EvaluationSummaryDto,
  type JobRecord,
} from '@keel/contracts';
import { JobRunner } from '@keel/jobs';
import type { RequestContext } from '@keel/platform';
import { EvaluationStore } from '../store.js';
import { EVALUATION_STORE } from './evaluation.tokens.js';

/** Reads, lists, cancels and compares evaluations. State comes from the job; results from the store. */
@Injectable()
export class EvaluationsService {
  constructor(
    private readonly jobs: JobRunner,
    @Inject(EVALUATION_STORE) private readonly store: EvaluationStore,
  ) {}

  private async job(id: string): Promise<JobRecord | undefined> {
    const record = await this.jobs.get(id);
    return record?.queue === 'eval' && record.name === 'run-evaluation' ? record : undefined;
  }

  async get(id: string): Promise<EvaluationDto> {
    const record = await this.job(id);
    const report = this.store.get(id);
    if (report) {
      return {
        id,
        state: 'completed',
        progress: 1,
        createdAt: record?.createdAt ?? report.createdAt,
        startedAt: record?.startedAt ?? report.createdAt,
        finishedAt: record?.finishedAt ?? report.finishedAt,
        report: report as unknown as Record<string, unknown>,
      };
    }
    if (!record) throw new KeelError('EVALUATION_NOT_FOUND', `evaluation '${id}' does not exist`);
    return {
      id,
      // A job that completed writes its report first; without one it did not complete.
      state: record.state === 'completed' ? 'failed' : record.state,
      progress: record.progress,
      ...(record.error ? { error: record.error } : {}),
      createdAt: record.createdAt,
      ...(record.startedAt ? { startedAt: record.startedAt } : {}),
      ...(record.finishedAt ? { finishedAt: record.finishedAt } : {}),
    };
  }

  list(limit: number): EvaluationSummaryDto[] {
    return this.store.list(limit) as unknown as EvaluationSummaryDto[];
  }

  /** Stops a waiting or running evaluation; a finished one is left as it is. */
  async cancel(id: string): Promise<void> {
    if (!(await this.job(id)) && !this.store.summary(id)) {
      throw new KeelError('EVALUATION_NOT_FOUND', `evaluation '${id}' does not exist`);
    }
    await this.jobs.cancel(id);
  }

  /** B (`other`) against A (`id`), paired by query, computed in the pool. */
  async compare(
    id: string,
    other: string,
    options: { metric?: string; alpha?: number },
    ctx: RequestContext,
  ): Promise<Comparison> {
    const summaries = [];
    for (const e of [id, other]) {
      const summary = this.store.summary(e);
      if (summary) {
        summaries.push(summary);
        continue;
      }
      if (await this.job(e)) {
        throw new KeelError('EVALUATION_NOT_READY', `evaluation '${e}' has not completed`);
      }
      throw new KeelError('EVALUATION_NOT_FOUND', `evaluation '${e}' does not exist`);
    }
    if (options.metric !== undefined) {
      const missing = summaries.find((s) => !(options.metric! in s.aggregate));
      if (missing) {
        throw new KeelError(
          'METRIC_UNKNOWN',
          `evaluation '${missing.id}' did not measure ${options.metric}`,
          [{ field: 'metric', message: `not one of ${Object.keys(missing.aggregate).join(', ')}` }],
        );
      }
    }
    return this.jobs.run(
      'eval',
      'compare-evaluations',
      {
        version: 1,
        a: id,
        b: other,
        ...(options.metric !== undefined ? { focus: options.metric } : {}),
        ...(options.alpha !== undefined ? { alpha: options.alpha } : {}),
      },
      ctx,
    );
  }
}
