import type { QueryResponseDto } from '@keel/contracts';
import { describe, expect, it } from 'vitest';
import { formatAnswer } from './format.js';

const base: QueryResponseDto = {
  answer: 'KEDA scales workers on queue depth [1].',
  mode: 'generated',
  citations: [{ marker: 1, id: 'keda#0', documentId: 'keda', title: 'KEDA' }],
  contexts: [
    {
      marker: 1,
      id: 'keda#0',
      documentId: 'keda',
      title: 'KEDA',
      text: 'KEDA scales on queue depth.',
      score: 1,
      truncated: false,
    },
  ],
  usage: { promptTokens: 42, completionTokens: 9 },
  degraded: false,
  failedLegs: [],
  timings: { retrieve: 1, rerank: 2, pack: 3, total: 9 },
};

describe('keel query text', () => {
  it('prints the answer, its citations and how it was made', () => {
    const text = formatAnswer(base);
    expect(text.split('\n')[0]).toBe(base.answer);
    expect(text).toContain('[1] KEDA (keda#0)');
    expect(text).toContain('mode generated · 1 passages, 42 prompt tokens');
    expect(text).not.toContain('cut off');
    expect(text).not.toContain('no packed passage');
    expect(text).not.toContain('degraded');
  });

  it('says when the answer was cut off at the token limit', () => {
    const lines = formatAnswer({ ...base, truncated: true }).split('\n');
    expect(lines[1]).toBe('[cut off: the model stopped at its token limit]');
  });

  it('names the markers the answer cites that no passage carries', () => {
    const text = formatAnswer({ ...base, answer: 'See [1] and [7].', unsupportedCitations: [7] });
    expect(text).toContain('[cites [7], which no packed passage carries: not in the citations]');
  });

  it('says when a retrieval leg failed', () => {
    const text = formatAnswer({ ...base, degraded: true, failedLegs: ['dense'] });
    expect(text).toContain('[degraded: retrieval leg dense failed; answered from the others]');
  });
});
