import { describe, expect, it } from 'vitest';
import { analyze, MAX_TERM_CHARS, queryTerms } from './analyzer.js';

describe('analyze', () => {
  it('lower-cases, folds and stems, keeping stop words', () => {
    expect(analyze('The Running DOGS of Ｋｅｅｌ')).toEqual(['the', 'run', 'dog', 'of', 'keel']);
  });

  it("drops English possessives instead of leaving an 's' term", () => {
    expect(analyze("The patient's and Hodgkin’s cells")).toEqual([
      'the',
      'patient',
      'and',
      'hodgkin',
      'cell',
    ]);
    // Like Lucene, "it's" loses its 's too: a contraction looks like a possessive.
    expect(analyze("rock 'n' roll, it's")).toEqual(['rock', 'n', 'roll', 'it']);
  });

  it('splits an unbroken 10,000-character run into bounded terms', () => {
    const terms = analyze('x'.repeat(10_000));
    expect(terms).toHaveLength(Math.ceil(10_000 / MAX_TERM_CHARS));
    expect(Math.max(...terms.map((t) => t.length))).toBeLessThanOrEqual(MAX_TERM_CHARS);
  });
});

describe('queryTerms', () => {
  it('drops stop words when the query has other terms', () => {
    expect(queryTerms('the effect of aspirin on the heart')).toEqual([
      'effect',
      'aspirin',
      'heart',
    ]);
  });

  it('keeps stop words when the query has nothing else', () => {
    expect(queryTerms('to be or not to be')).toEqual(['to', 'be', 'or', 'not']);
  });
});
