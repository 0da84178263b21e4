import { KeelError, type JobPayload, type ProcessorContext } from '@keel/contracts/jobs';
import { getTokenizer } from '@keel/text';
import { describe, expect, it } from 'vitest';
import { packProcessor } from './processor.js';

function context(signal = new AbortController().signal): ProcessorContext {
  return { signal, dataDir: '/nonexistent', progress: () => undefined };
}

const payload: JobPayload<'pack', 'pack'> = {
  version: 1,
  query: 'How is the worker pool sized?',
  passages: [
    { id: 'a', text: 'Logs are JSON lines.', score: 0.2 },
    {
      id: 'b',
      text: 'The worker pool is sized from the cgroup quota. Nothing else matters.',
      score: 0.9,
      title: 'Runtime',
      documentId: 'doc-b',
    },
  ],
  budgetTokens: 1_000,
  encoding: 'cl100k_base',
};

describe('packProcessor', () => {
  it('packs with the requested encoding and returns the contract shape', async () => {
    const result = await packProcessor.handle(payload, context());
    expect(result.encoding).toBe('cl100k_base');
    expect(result.tokens).toBe(getTokenizer('cl100k_base').count(result.prompt));
    expect(result.included.map((p) => Object.keys(p).sort())).toEqual([
      ['id', 'marker', 'text', 'tokens', 'truncated'],
      ['id', 'marker', 'text', 'tokens', 'truncated'],
    ]);
    expect(result.citations[0]).toEqual({
      marker: 1,
      id: 'b',
      documentId: 'doc-b',
      title: 'Runtime',
    });
    expect(result.answer).toBeUndefined();
  });

  it('adds the extractive answer when asked', async () => {
    const result = await packProcessor.handle({ ...payload, extractiveAnswer: true }, context());
    expect(result.answer).toEqual({
      text: 'The worker pool is sized from the cgroup quota. [1]',
      citations: [{ marker: 1, id: 'b', documentId: 'doc-b', title: 'Runtime' }],
    });
  });

  it('rejects with stable codes', async () => {
    await expect(
      packProcessor.handle({ ...payload, budgetTokens: 20 }, context()),
    ).rejects.toSatisfy(
      (error) => error instanceof KeelError && error.code === 'PACK_BUDGET_TOO_SMALL',
    );
    await expect(
      packProcessor.handle({ ...payload, template: 'no placeholders' }, context()),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(
      packProcessor.handle({ ...payload, version: 2 as 1 }, context()),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    await expect(
      packProcessor.handle({ ...payload, encoding: 'gpt2' as 'o200k_base' }, context()),
    ).rejects.toMatchObject({ code: 'VALIDATION_FAILED' });
    const aborted = new AbortController();
    aborted.abort();
    await expect(packProcessor.handle(payload, context(aborted.signal))).rejects.toMatchObject({
      code: 'CANCELLED',
    });
  });
});
