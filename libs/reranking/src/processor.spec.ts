import { describe, expect, it } from 'vitest';
import type { ProcessorContext } from '@keel/contracts/jobs';
import { rerankProcessor } from './processor.js';

const context = (signal = new AbortController().signal): ProcessorContext => ({
  signal,
  dataDir: '/nonexistent',
  progress: () => undefined,
});
const payload = {
  version: 1 as const,
  query: 'heart attack',
  candidates: [
    { id: 'a', text: 'lungs', score: 2 },
    { id: 'b', text: 'heart attack', score: 1.9 },
    { id: 'c', text: 'kidneys', score: 0 },
  ],
  topK: 2,
  method: 'keel',
};

describe('rerankProcessor', () => {
  it('reranks', async () => {
    const { results } = await rerankProcessor.handle(payload, context());
    expect(results.map((r) => r.id)).toEqual(['b', 'a']);
  });

  it('keeps the first-stage order for none', async () => {
    const { results } = await rerankProcessor.handle({ ...payload, method: 'none' }, context());
    expect(results.map((r) => [r.id, r.rank])).toEqual([
      ['a', 1],
      ['b', 2],
    ]);
  });

  it('rejects an unknown method, a newer payload and a cancelled job with stable codes', async () => {
    await expect(
      rerankProcessor.handle({ ...payload, method: 'magic' }, context()),
    ).rejects.toMatchObject({
      code: 'RERANK_METHOD_UNKNOWN',
    });
    await expect(
      rerankProcessor.handle({ ...payload, version: 2 as unknown as 1 }, context()),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(
      rerankProcessor.handle(payload, context(AbortSignal.abort())),
    ).rejects.toMatchObject({
      code: 'CANCELLED',
    });
  });
});
