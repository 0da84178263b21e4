import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { Inject, Injectable } from '@nestjs/common';
import {
  KeelError,
  type CreateEvaluationDto,
  type EvaluationAcceptedDto,
  type EvaluationConfig,
  type EvaluationDatasetSpec,
} from '@keel/contracts';
import { JobRunner } from '@keel/jobs';
import { KEEL_CONFIG, type KeelConfig, type RequestContext } from '@keel/platform';
import { RERANK_FEATURES } from '@keel/reranking';
import { CollectionsService, refOf, RetrievalService } from '@keel/retrieval';
import { parseMetric } from '../metrics.js';
import { ANSWER_MEASURES, DEFAULT_ANSWER_METRICS, DEFAULT_RETRIEVAL_METRICS } from '../types.js';
import { KEEL_VERSION } from './evaluation.tokens.js';

export const EVALUATION_DEFAULTS = {
  mode: 'bm25',
  topK: 100,
  rerank: 'keel',
  budgetTokens: 3_000,
  contextTopK: 8,
  encoding: 'o200k_base',
} as const;

function invalid(field: string, message: string): KeelError {
  return new KeelError('VALIDATION_FAILED', `${field} ${message}`, [{ field, message }]);
}

/**
 * Accepts an evaluation (STYLE.md #14): checks everything that can be checked before queueing
 * (the collection, the uploaded dataset's consistency, metric names, rerank weights), then
 * enqueues one `eval` job. A named dataset is read and validated by the job itself.
 */
@Injectable()
export class RunEvaluation {
  constructor(
    private readonly collections: CollectionsService,
    private readonly retrieval: RetrievalService,
    private readonly jobs: JobRunner,
    @Inject(KEEL_CONFIG) private readonly config: KeelConfig,
    @Inject(KEEL_VERSION) private readonly version: string,
  ) {}

  async execute(dto: CreateEvaluationDto, ctx: RequestContext): Promise<EvaluationAcceptedDto> {
    const collection = await this.collections.require(dto.collection, ctx);
    const dataset = this.dataset(dto.dataset);
    const config = this.configOf(dto, dataset.kind === 'retrieval' || dataset.kind === 'beir-dir');
    this.retrieval.checkMode(collection, config.mode);
    const rerank = config.rerank === 'none' ? 'bm25' : `bm25 + ${config.rerank} rerank`;
    const record = await this.jobs.enqueue(
      'eval',
      'run-evaluation',
      {
        version: 1,
        label: dto.label ?? rerank,
        collection: refOf(collection),
        dataset,
        config,
        keelVersion: this.version,
      },
      { requestId: ctx.requestId, timeoutMs: this.config.evaluation.timeoutMs },
    );
    return { id: record.id, location: `/v1/evaluations/${record.id}` };
  }

  private dataset(dto: CreateEvaluationDto['dataset']): EvaluationDatasetSpec {
    const uploaded = dto.queries !== undefined || dto.qrels !== undefined;
    if (uploaded && dto.items !== undefined) {
      throw invalid('dataset', 'has both queries/qrels (retrieval) and items (answers); give one');
    }
    if (uploaded) return this.uploadedRetrieval(dto);
    if (dto.items !== undefined) {
      const seen = new Set<string>();
      dto.items.forEach((item, i) => {
        if (seen.has(item.id)) throw invalid(`dataset.items.${i}.id`, `repeats id ${item.id}`);
        seen.add(item.id);
        if (item.answers.length === 0 && !item.contexts?.length && !item.docIds?.length) {
          throw invalid(`dataset.items.${i}`, 'needs gold answers, contexts or docIds');
        }
      });
      return { kind: 'answers', name: dto.name, items: dto.items };
    }
    return this.named(dto.name, dto.split);
  }

  private uploadedRetrieval(dto: CreateEvaluationDto['dataset']): EvaluationDatasetSpec {
    if (!dto.queries || !dto.qrels) {
      throw invalid('dataset', 'an uploaded retrieval dataset needs both queries and qrels');
    }
    const queries = new Map<string, string>();
    dto.queries.forEach((q, i) => {
      if (queries.has(q.id)) throw invalid(`dataset.queries.${i}.id`, `repeats id ${q.id}`);
      queries.set(q.id, q.text);
    });
    const qrels: Record<string, Record<string, number>> = {};
    for (const [qid, docs] of Object.entries(dto.qrels)) {
      const field = `dataset.qrels.${qid}`;
      if (!queries.has(qid)) {
        throw new KeelError('DATASET_INVALID', `${field}: query ${qid} is not in dataset.queries`, [
          { field, message: 'unknown query id' },
        ]);
      }
      if (docs === null || typeof docs !== 'object' || Array.isArray(docs)) {
        throw invalid(field, 'must be an object of document id → integer grade');
      }
      for (const [docId, grade] of Object.entries(docs)) {
        if (!Number.isSafeInteger(grade)) throw invalid(`${field}.${docId}`, 'must be an integer');
      }
      qrels[qid] = docs;
    }
    // As in BEIR, a split's queries are those it judges.
    const judged = dto.queries.filter((q) => qrels[q.id] !== undefined);
    if (judged.length === 0) throw invalid('dataset.qrels', 'judges none of the queries');
    return {
      kind: 'retrieval',
      name: dto.name,
      split: dto.split ?? 'uploaded',
      queries: judged,
      qrels,
    };
  }

  /** A dataset under KEEL_DATASETS_DIR: `<name>/` in the BEIR layout, or `<name>.jsonl`. */
  private named(name: string, split: string | undefined): EvaluationDatasetSpec {
    const root = this.config.datasetsDir;
    if (!root) {
      throw new KeelError(
        'DATASET_NOT_FOUND',
        `no dataset '${name}': this server has no KEEL_DATASETS_DIR; upload queries and qrels (or items) instead`,
      );
    }
    // The DTO's pattern keeps names and splits to one path segment, never '..'.
    const dir = join(root, name);
    if (existsSync(dir) && statSync(dir).isDirectory()) {
      const chosen = split ?? 'test';
      if (!existsSync(join(dir, 'qrels', `${chosen}.tsv`))) {
        throw new KeelError('DATASET_NOT_FOUND', `dataset '${name}' has no split '${chosen}'`);
      }
      return { kind: 'beir-dir', name, split: chosen, path: dir };
    }
    const file = join(root, `${name}.jsonl`);
    if (existsSync(file)) return { kind: 'answers-file', name, path: file };
    throw new KeelError('DATASET_NOT_FOUND', `no dataset '${name}' under KEEL_DATASETS_DIR`);
  }

  private configOf(dto: CreateEvaluationDto, retrieval: boolean): EvaluationConfig {
    const c = dto.config ?? {};
    const metrics = c.metrics ?? [
      ...(retrieval ? DEFAULT_RETRIEVAL_METRICS : DEFAULT_ANSWER_METRICS),
    ];
    metrics.forEach((metric, i) => {
      if (retrieval) {
        try {
          parseMetric(metric);
        } catch (error) {
          throw new KeelError('METRIC_UNKNOWN', (error as Error).message, [
            { field: `config.metrics.${i}`, message: (error as Error).message },
          ]);
        }
      } else if (!(ANSWER_MEASURES as readonly string[]).includes(metric)) {
        throw new KeelError(
          'METRIC_UNKNOWN',
          `an answer-level dataset measures ${ANSWER_MEASURES.join(', ')}; got ${metric}`,
          [{ field: `config.metrics.${i}`, message: 'not an answer measure' }],
        );
      }
    });
    if (new Set(metrics).size !== metrics.length)
      throw invalid('config.metrics', 'repeats a metric');
    for (const [feature, weight] of Object.entries(c.rerankWeights ?? {})) {
      const field = `config.rerankWeights.${feature}`;
      if (!(RERANK_FEATURES as readonly string[]).includes(feature)) {
        throw invalid(field, `is not a feature (${RERANK_FEATURES.join(', ')})`);
      }
      if (typeof weight !== 'number' || !Number.isFinite(weight))
        throw invalid(field, 'must be a finite number');
    }
    return {
      mode: c.mode ?? EVALUATION_DEFAULTS.mode,
      topK: c.topK ?? EVALUATION_DEFAULTS.topK,
      rerank: c.rerank ?? EVALUATION_DEFAULTS.rerank,
      ...(c.rerankWeights ? { rerankWeights: c.rerankWeights } : {}),
      ...(c.mmrLambda !== undefined ? { mmrLambda: c.mmrLambda } : {}),
      budgetTokens: c.budgetTokens ?? EVALUATION_DEFAULTS.budgetTokens,
      contextTopK: c.contextTopK ?? EVALUATION_DEFAULTS.contextTopK,
      encoding: c.encoding ?? EVALUATION_DEFAULTS.encoding,
      metrics,
    };
  }
}
