import {
  defineProcessor,
  KeelError,
  type JobPayload,
  type JobResult,
  type ProcessorContext,
} from '@keel/contracts/jobs';
import { getTokenizer, isEncoding } from '@keel/text';
import { PackBudgetTooSmallError, PackingError } from './errors.js';
import { extractAnswer } from './extract.js';
import { packContext } from './pack.js';

/**
 * The `pack` job: {@link packContext} (and, when asked, {@link extractAnswer} over what it packed)
 * behind the job map, run in a pool thread or a worker process. Errors become rejections with a
 * stable code, never synchronous throws.
 */
export const packProcessor = defineProcessor({
  queue: 'pack',
  name: 'pack',
  handle: (payload, context) => Promise.resolve().then(() => runPackJob(payload, context)),
});

function runPackJob(
  payload: JobPayload<'pack', 'pack'>,
  context: ProcessorContext,
): JobResult<'pack', 'pack'> {
  if (context.signal.aborted) throw new KeelError('CANCELLED', 'the job was cancelled');
  // Jobs can outlive a deploy: accept only the payload shape this code understands.
  if (payload.version !== 1) {
    throw new KeelError(
      'VALIDATION_FAILED',
      `unsupported pack payload version ${String(payload.version)}`,
    );
  }
  const { query, passages, budgetTokens, encoding, template } = payload;
  if (!isEncoding(encoding)) {
    throw new KeelError('VALIDATION_FAILED', `unknown encoding ${JSON.stringify(encoding)}`, [
      { field: 'encoding', message: 'must be o200k_base or cl100k_base' },
    ]);
  }
  let packed: ReturnType<typeof packContext>;
  try {
    packed = packContext({
      query,
      passages,
      budgetTokens,
      tokenizer: getTokenizer(encoding),
      ...(template !== undefined ? { template } : {}),
    });
  } catch (error) {
    throw toJobError(error);
  }
  const result: JobResult<'pack', 'pack'> = {
    prompt: packed.prompt,
    tokens: packed.tokens,
    encoding,
    included: packed.included.map(({ id, marker, tokens, truncated, text }) => ({
      id,
      marker,
      tokens,
      truncated,
      text,
    })),
    dropped: packed.dropped,
    citations: packed.citations,
  };
  if (payload.extractiveAnswer === true) {
    const answer = extractAnswer({ query, passages: packed.included });
    result.answer = { text: answer.answer, citations: answer.citations };
  }
  return result;
}

function toJobError(error: unknown): unknown {
  if (error instanceof PackBudgetTooSmallError) {
    return new KeelError(error.code, error.message, [
      { field: 'budgetTokens', message: `must be at least ${error.requiredTokens}` },
    ]);
  }
  if (error instanceof PackingError) {
    return new KeelError(error.code, error.message, [
      { field: 'template', message: error.message },
    ]);
  }
  if (error instanceof RangeError) return new KeelError('VALIDATION_FAILED', error.message);
  return error;
}
