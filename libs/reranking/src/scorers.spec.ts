import { describe, expect, it } from 'vitest';
import { analyzeCandidate, queryContext, type AnalyzedCandidate } from './analysis.js';
import {
  bm25Score,
  cosineSimilarity,
  coverageScore,
  feedbackScores,
  proximityScore,
  titleScore,
} from './scorers.js';
import type { CorpusStats } from './types.js';

const BM25 = { k1: 1.2, b: 0.75 };
const doc = (text: string, title?: string): AnalyzedCandidate =>
  analyzeCandidate(title === undefined ? { text } : { text, title });
/** Flat corpus statistics, so that only the candidate's own text varies between cases. */
const stats = (terms: string[], averageLength = 10): CorpusStats => ({
  documentCount: 1000,
  averageLength,
  documentFrequency: Object.fromEntries(terms.map((t) => [t, 10])),
});

describe('bm25Score', () => {
  it('saturates term frequency: each extra occurrence adds less, and never past idf · (k1 + 1)', () => {
    const context = queryContext(['aspirin'], [], stats(['aspirin']));
    const filler = 'x '.repeat(10);
    const scores = [1, 2, 4, 8, 16].map((tf) =>
      bm25Score(context, doc(`${'aspirin '.repeat(tf)}${filler}`), { k1: 1.2, b: 0 }),
    );
    for (let i = 1; i < scores.length; i++) expect(scores[i]).toBeGreaterThan(scores[i - 1]);
    const gains = scores.slice(1).map((s, i) => s - scores[i]);
    expect(gains[1]).toBeLessThan(gains[0] * 2); // doubling tf gains less than twice as much
    expect(scores[4]).toBeLessThan(context.idf[0] * 2.2);
  });

  it('normalizes by length: the same matches in a longer text score lower', () => {
    const context = queryContext(['aspirin'], [], stats(['aspirin'], 10));
    const short = bm25Score(context, doc('aspirin helps'), BM25);
    const long = bm25Score(context, doc(`aspirin helps ${'x '.repeat(40)}`), BM25);
    expect(short).toBeGreaterThan(long);
  });

  it('reads the title and the text as one field', () => {
    const context = queryContext(['aspirin'], [], stats(['aspirin']));
    expect(bm25Score(context, doc('helps', 'Aspirin'), BM25)).toBeCloseTo(
      bm25Score(context, doc('aspirin helps'), BM25),
    );
  });
});

describe('proximityScore', () => {
  const query = ['heart', 'attack'];
  const context = queryContext(query, [], stats(query));

  it('prefers adjacent query terms to distant ones', () => {
    const adjacent = proximityScore(context, doc('a heart attack was seen in the study'), {
      window: 10,
    });
    const near = proximityScore(context, doc('the heart had a small attack'), { window: 10 });
    const far = proximityScore(context, doc(`heart ${'x '.repeat(30)} attack`), { window: 10 });
    expect(adjacent).toBeGreaterThan(near);
    expect(near).toBeGreaterThan(far);
    expect(far).toBeCloseTo(0.5); // one term alone: its share of the query, no partner in reach
  });

  it('never pairs a title term with a body term', () => {
    const split = proximityScore(context, doc('attack rates rose', 'Heart'), { window: 10 });
    const joined = proximityScore(context, doc('heart attack rates rose'), { window: 10 });
    expect(split).toBeCloseTo(0.5);
    expect(joined).toBeGreaterThan(0.9);
  });

  it('is 0 without any query term', () => {
    expect(proximityScore(context, doc('nothing relevant here'), { window: 10 })).toBe(0);
  });
});

describe('titleScore', () => {
  it('counts only the query terms found in the title, IDF-weighted', () => {
    const context = queryContext(['aspirin', 'heart'], [], {
      documentCount: 1000,
      averageLength: 10,
      documentFrequency: { aspirin: 1, heart: 500 },
    });
    expect(titleScore(context, doc('aspirin and the heart'))).toBe(0);
    expect(titleScore(context, doc('x', 'Aspirin trial'))).toBeGreaterThan(
      titleScore(context, doc('x', 'Heart trial')),
    );
    expect(titleScore(context, doc('x', 'Aspirin and the heart'))).toBeCloseTo(1);
  });
});

describe('coverageScore', () => {
  it('is the IDF-weighted share of the query terms present anywhere', () => {
    const context = queryContext(['aspirin', 'heart'], [], stats(['aspirin', 'heart']));
    expect(coverageScore(context, doc('heart'))).toBeCloseTo(0.5);
    expect(coverageScore(context, doc('heart', 'Aspirin'))).toBeCloseTo(1);
    expect(coverageScore(context, doc('lungs'))).toBe(0);
  });
});

describe('cosineSimilarity', () => {
  it('is 1 for the same content, 0 for disjoint content, and ignores stop words', () => {
    const a = doc('aspirin reduces heart attacks');
    expect(cosineSimilarity(a, doc('Aspirin reduces heart attacks.'))).toBeCloseTo(1);
    expect(cosineSimilarity(a, doc('lungs of the smokers'))).toBe(0);
    expect(cosineSimilarity(doc('the of and'), doc('the of and'))).toBe(0);
  });
});

describe('feedbackScores', () => {
  const list = [
    doc('aspirin lowers platelet aggregation in heart patients'),
    doc('platelet aggregation under aspirin in heart patients'),
    doc('heart patients and their diet'),
    doc('heart patients in rural clinics'),
  ];

  it('scores each candidate by its likeness to the best one, in [0, 1]', () => {
    const scores = feedbackScores(list, 0, 1);
    expect(scores[1]).toBeGreaterThan(scores[2]);
    expect(scores[2]).toBeGreaterThan(0);
    for (const s of scores) {
      expect(s).toBeGreaterThanOrEqual(0);
      expect(s).toBeLessThanOrEqual(1 + 1e-12);
    }
  });

  it('gives the best candidate its likeness to the runner-up, not to itself', () => {
    expect(feedbackScores(list, 0, 1)[0]).toBeCloseTo(feedbackScores(list, 1, 0)[1]);
    expect(feedbackScores(list, 0, 3)[0]).toBeLessThan(feedbackScores(list, 0, 1)[0]);
  });

  it('is 1 for a copy of the best candidate and 0 for one sharing nothing with it', () => {
    const scores = feedbackScores(
      [doc('aspirin and platelets'), doc('Aspirin and platelets.'), doc('lungs of smokers')],
      0,
      1,
    );
    expect(scores[1]).toBeCloseTo(1);
    expect(scores[2]).toBe(0);
  });

  it('takes IDF from the list: a term every candidate has barely makes them alike', () => {
    // "heart" and "patients" are in all four; "rural" and "diet" only in one each.
    const scores = feedbackScores(list, 2, 3);
    expect(scores[3]).toBeLessThan(0.05);
  });

  it('ignores stop words and is 0 without a second candidate or content', () => {
    expect(feedbackScores([doc('aspirin')], 0, -1)).toEqual([0]);
    expect(feedbackScores([doc('the of and'), doc('the of and')], 0, 1)).toEqual([0, 0]);
  });
});
