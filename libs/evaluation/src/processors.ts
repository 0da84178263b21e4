// Job processors of the evaluation lib. Nest-free: pool threads and worker processes load them.
// An evaluation is itself a job, so it calls the search, rerank and pack processors directly in
// its own thread instead of queueing hundreds of small jobs behind itself.
import { defineProcessor, KeelError, type ProcessorContext } from '@keel/contracts/jobs';
import { packProcessor } from '@keel/packing';
import type { PipelineSteps } from '@keel/pipeline/core';
import { rerankProcessor } from '@keel/reranking';
import { bm25SearchProcessor } from '@keel/retrieval/processors';
import { compareRuns } from './compare.js';
import { runEvaluation } from './runner.js';
import { EvaluationStore } from './store.js';

const stores = new Map<string, EvaluationStore>();

function evaluationStoreFor(dataDir: string): EvaluationStore {
  let store = stores.get(dataDir);
  if (!store) {
    store = EvaluationStore.open(dataDir);
    stores.set(dataDir, store);
  }
  return store;
}

function inThreadSteps(context: ProcessorContext): PipelineSteps {
  // The steps report no progress of their own: the evaluation reports per query.
  const step: ProcessorContext = { ...context, progress: () => undefined };
  return {
    search: (payload) => bm25SearchProcessor.handle(payload, step),
    rerank: (payload) => rerankProcessor.handle(payload, step),
    pack: (payload) => packProcessor.handle(payload, step),
  };
}

export const runEvaluationProcessor = defineProcessor({
  queue: 'eval',
  name: 'run-evaluation',
  handle: async (payload, context) => {
    if (payload.version !== 1) {
      throw new KeelError(
        'VALIDATION_FAILED',
        `unsupported evaluation payload version ${String(payload.version)}`,
      );
    }
    if (!context.jobId) throw new KeelError('JOB_FAILED', 'an evaluation runs as a tracked job');
    const report = await runEvaluation(payload, {
      id: context.jobId,
      steps: inThreadSteps(context),
      signal: context.signal,
      progress: (fraction) => context.progress(0.99 * fraction),
    });
    // Written once, whole, after the last query: a cancelled or failed run leaves no report.
    evaluationStoreFor(context.dataDir).save(report);
    context.progress(1);
    return { id: report.id, queries: report.dataset.queries, aggregate: report.aggregate };
  },
});

export const compareEvaluationsProcessor = defineProcessor({
  queue: 'eval',
  name: 'compare-evaluations',
  handle: (payload, context) =>
    Promise.resolve().then(() => {
      const store = evaluationStoreFor(context.dataDir);
      const a = store.get(payload.a);
      const b = store.get(payload.b);
      for (const [id, report] of [
        [payload.a, a],
        [payload.b, b],
      ] as const) {
        if (!report)
          throw new KeelError('EVALUATION_NOT_FOUND', `evaluation '${id}' has no report`);
      }
      return compareRuns(a!, b!, {
        ...(payload.focus !== undefined ? { focus: payload.focus } : {}),
        ...(payload.alpha !== undefined ? { alpha: payload.alpha } : {}),
      });
    }),
});

export const EVALUATION_PROCESSORS = [runEvaluationProcessor, compareEvaluationsProcessor] as const;

export function closeEvaluationStores(): void {
  for (const store of stores.values()) store.close();
  stores.clear();
}
