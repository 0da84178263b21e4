import {
  defineProcessor,
  KeelError,
  type JobPayload,
  type JobResult,
  type ProcessorContext,
} from '@keel/contracts/jobs';
import { rerank } from './rerank.js';
import { isRerankMethod } from './types.js';

/**
 * The `rerank` job: {@link rerank} behind the job map, run in a pool thread or a worker process.
 * Errors become rejections (never synchronous throws) whatever the caller does with the promise.
 */
export const rerankProcessor = defineProcessor({
  queue: 'rerank',
  name: 'rerank',
  handle: (payload, context) => Promise.resolve().then(() => runRerankJob(payload, context)),
});

function runRerankJob(
  payload: JobPayload<'rerank', 'rerank'>,
  context: ProcessorContext,
): JobResult<'rerank', 'rerank'> {
  if (context.signal.aborted) throw new KeelError('CANCELLED', 'the job was cancelled');
  // Jobs can outlive a deploy: accept only the payload shape this code understands.
  if (payload.version !== 1) {
    throw new KeelError(
      'VALIDATION_FAILED',
      `unsupported rerank payload version ${String(payload.version)}`,
    );
  }
  const { query, candidates, topK, method, weights, mmrLambda, stats } = payload;
  if (method === 'none') {
    // Accepted by the API's DTOs: keep the first-stage order.
    return {
      results: candidates.slice(0, topK).map((c, i) => {
        const features: Record<string, number> = c.score !== undefined ? { first: c.score } : {};
        return { id: c.id, score: c.score ?? 0, rank: i + 1, features };
      }),
    };
  }
  if (!isRerankMethod(method)) {
    throw new KeelError('RERANK_METHOD_UNKNOWN', `unknown rerank method ${JSON.stringify(method)}`);
  }
  const results = rerank(query, candidates, {
    method,
    topK,
    ...(weights !== undefined ? { weights } : {}),
    ...(mmrLambda !== undefined ? { mmrLambda } : {}),
    ...(stats ? { stats } : {}),
  });
  return { results };
}
