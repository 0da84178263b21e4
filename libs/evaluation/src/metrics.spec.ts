import { describe, expect, it } from 'vitest';
import { evaluateRun, ndcgAtK, recallAtK, reciprocalRankAtK } from './metrics.js';

const j = (entries: Array<[string, number]>) => new Map(entries);

describe('retrieval metrics (trec_eval semantics)', () => {
  it('nDCG uses graded gains, a log2 discount and the ideal order of all judged documents', () => {
    const judgements = j([
      ['a', 2],
      ['b', 1],
      ['c', 0],
    ]);
    // run: c, b, a → DCG = 0 + 1/log2(3) + 2/log2(4) = 0.6309 + 1; IDCG = 2 + 1/log2(3)
    const expected = (1 / Math.log2(3) + 2 / 2) / (2 + 1 / Math.log2(3));
    expect(ndcgAtK(['c', 'b', 'a'], judgements, 10)).toBeCloseTo(expected, 12);
    expect(ndcgAtK(['a', 'b'], judgements, 10)).toBe(1);
  });

  it('cuts both the run and the ideal at k', () => {
    const judgements = j([
      ['a', 1],
      ['b', 1],
      ['c', 1],
    ]);
    expect(ndcgAtK(['x', 'a'], judgements, 1)).toBe(0);
    // k = 2: DCG = 1/log2(3); IDCG = 1 + 1/log2(3)
    expect(ndcgAtK(['x', 'a'], judgements, 2)).toBeCloseTo(
      1 / Math.log2(3) / (1 + 1 / Math.log2(3)),
      12,
    );
  });

  it('scores 0 when nothing is relevant, and a run shorter than k is fine', () => {
    expect(ndcgAtK(['a'], j([['a', 0]]), 10)).toBe(0);
    expect(recallAtK(['a'], j([]), 10)).toBe(0);
    expect(
      recallAtK(
        ['a'],
        j([
          ['a', 1],
          ['b', 1],
        ]),
        100,
      ),
    ).toBe(0.5);
  });

  it('reciprocal rank is that of the first relevant document within k', () => {
    expect(reciprocalRankAtK(['x', 'y', 'a'], j([['a', 1]]), 10)).toBeCloseTo(1 / 3, 12);
    expect(reciprocalRankAtK(['x', 'y', 'a'], j([['a', 1]]), 2)).toBe(0);
  });

  it('averages over judged queries; a query without an answer scores 0', () => {
    const qrels = new Map([
      ['q1', j([['a', 1]])],
      ['q2', j([['b', 1]])],
    ]);
    const scores = evaluateRun(new Map([['q1', ['a']]]), qrels);
    expect(scores).toEqual({ queries: 2, ndcgAt10: 0.5, recallAt100: 0.5, mrrAt10: 0.5 });
  });
});
