import { describe, expect, it } from 'vitest';
import { fuse } from './fusion.js';

const hits = (...ids: string[]) => ids.map((id, i) => ({ id, score: 10 - i }));

describe('reciprocal rank fusion', () => {
  it('adds 1 / (k + rank) over the legs that returned a hit', () => {
    const out = fuse(
      [
        { name: 'bm25', hits: hits('a', 'b', 'c') },
        { name: 'dense', hits: hits('c', 'a', 'd') },
      ],
      { method: 'rrf', topK: 10 },
    );
    const score = Object.fromEntries(out.map((h) => [h.id, h.score]));
    expect(score.a).toBeCloseTo(1 / 61 + 1 / 62, 12);
    expect(score.c).toBeCloseTo(1 / 63 + 1 / 61, 12);
    expect(score.b).toBeCloseTo(1 / 62, 12);
    expect(score.d).toBeCloseTo(1 / 63, 12);
    expect(out.map((h) => h.id)).toEqual(['a', 'c', 'b', 'd']);
    expect(out[1].legs).toEqual({ bm25: { rank: 3, score: 8 }, dense: { rank: 1, score: 10 } });
  });

  it('honours k, leg weights, topK and counts a repeated id once per leg', () => {
    const out = fuse(
      [
        { name: 'bm25', hits: [...hits('a', 'b'), { id: 'a', score: 1 }], weight: 1 },
        { name: 'dense', hits: hits('b'), weight: 3 },
      ],
      { method: 'rrf', k: 0, topK: 1 },
    );
    expect(out).toHaveLength(1);
    expect(out[0].id).toBe('b');
    expect(out[0].score).toBeCloseTo(1 / 2 + 3 / 1, 12);
  });

  it('keeps the first-appearance order on ties and an empty leg changes nothing', () => {
    const out = fuse(
      [
        { name: 'bm25', hits: hits('x') },
        { name: 'dense', hits: hits('y') },
        { name: 'none', hits: [] },
      ],
      { method: 'rrf', topK: 5 },
    );
    expect(out.map((h) => h.id)).toEqual(['x', 'y']);
  });
});

describe('convex combination', () => {
  it('sums weighted min-max scores; a leg that misses a hit adds 0', () => {
    const out = fuse(
      [
        {
          name: 'bm25',
          hits: [
            { id: 'a', score: 30 },
            { id: 'b', score: 20 },
            { id: 'c', score: 10 },
          ],
          weight: 0.3,
        },
        {
          name: 'dense',
          hits: [
            { id: 'c', score: 0.9 },
            { id: 'b', score: 0.5 },
          ],
          weight: 0.7,
        },
      ],
      { method: 'convex', topK: 10 },
    );
    const score = Object.fromEntries(out.map((h) => [h.id, h.score]));
    expect(score.a).toBeCloseTo(0.3, 12);
    expect(score.b).toBeCloseTo(0.3 * 0.5 + 0, 12);
    expect(score.c).toBeCloseTo(0 + 0.7, 12);
    expect(out.map((h) => h.id)).toEqual(['c', 'a', 'b']);
  });

  it('a leg whose scores are all equal counts each hit fully', () => {
    const out = fuse(
      [
        {
          name: 'dense',
          hits: [
            { id: 'a', score: 2 },
            { id: 'b', score: 2 },
          ],
        },
      ],
      {
        method: 'convex',
        topK: 10,
      },
    );
    expect(out.map((h) => h.score)).toEqual([1, 1]);
  });
});
