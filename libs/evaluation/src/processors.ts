// Job processors of the evaluation lib. Nest-free: pool threads and worker processes load them.
// An evaluation is itself a job, so it calls the search, rerank and pack processors directly in
// its own thread instead of queueing hundreds of small jobs behind itself.
import {
  defineProcessor,
  KeelError,
  type CollectionRef,
  type ProcessorContext,
} from '@keel/contracts/jobs';
import { packProcessor } from '@keel/packing';
import type { PipelineSteps } from '@keel/pipeline/core';
import { rerankProcessor } from '@keel/reranking';
import {
  bm25SearchProcessor,
  embedQuery,
  knnSearchProcessor,
  openSearchLegs,
  opensearchFor,
  retrieve,
  storeFor,
  type RetrievalLegs,
} from '@keel/retrieval/processors';
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

/** How long one query of an evaluation may take, as a request to /v1/query would. */
const QUERY_DEADLINE_MS = 30_000;

/**
 * The legs of one collection as this thread reaches it: the embedded store's processors
 * directly, or the OpenSearch cluster.
 */
async function threadLegs(
  context: ProcessorContext,
  step: ProcessorContext,
  ref: CollectionRef,
): Promise<RetrievalLegs> {
  const embed = context.embed;
  if (ref.backend === 'opensearch') {
    const os = await opensearchFor(context);
    const collection = await os.getCollection(ref.name, { signal: context.signal });
    if (!collection) {
      throw new KeelError('COLLECTION_NOT_FOUND', `collection '${ref.name}' does not exist`);
    }
    return openSearchLegs(os, collection, embed);
  }
  const collection = storeFor(context).getCollection(ref.name);
  if (!collection || collection.id !== ref.id) {
    throw new KeelError('COLLECTION_NOT_FOUND', `collection '${ref.name}' does not exist`);
  }
  const embedding = collection.embedding;
  const legs: RetrievalLegs = {
    bm25: (r) =>
      bm25SearchProcessor.handle(
        {
          version: 1,
          collection: ref,
          query: r.query,
          topK: r.topK,
          group: r.group,
          ...(r.filter ? { filter: r.filter } : {}),
          ...(r.withStats ? { withStats: true } : {}),
        },
        { ...step, signal: r.signal, deadline: r.deadline },
      ),
  };
  if (embed && embedding) {
    legs.dense = async (r) =>
      knnSearchProcessor.handle(
        {
          version: 1,
          collection: ref,
          vector: await embedQuery(embed, embedding, ref.name, r),
          topK: r.topK,
          group: r.group,
          ...(r.filter ? { filter: r.filter } : {}),
        },
        { ...step, signal: r.signal, deadline: r.deadline },
      );
  }
  return legs;
}

async function inThreadSteps(
  context: ProcessorContext,
  ref: CollectionRef,
): Promise<PipelineSteps> {
  // The steps report no progress of their own: the evaluation reports per query.
  const step: ProcessorContext = { ...context, progress: () => undefined };
  const legs = await threadLegs(context, step, ref);
  return {
    retrieve: (spec) =>
      retrieve(legs, {
        ...spec,
        deadline: Math.min(context.deadline ?? Infinity, Date.now() + QUERY_DEADLINE_MS),
        signal: context.signal,
      }),
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
      steps: await inThreadSteps(context, payload.collection),
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
