import { describe, expect, it } from 'vitest';
import { analyzeCandidate, idf, queryContext } from './analysis.js';

describe('analyzeCandidate', () => {
  it('counts title and text terms together, keeps title terms apart and stems like the index', () => {
    const a = analyzeCandidate({ title: 'Running dogs', text: 'The dogs ran' });
    expect(a.length).toBe(5);
    expect(a.termFrequency.get('dog')).toBe(2);
    expect([...a.titleTerms].sort()).toEqual(['dog', 'run']);
    const [titleDog, bodyDog] = a.positions.get('dog')!;
    expect(titleDog).toBe(1);
    expect(bodyDog - titleDog).toBeGreaterThan(64); // no proximity window bridges the fields
  });
});

describe('queryContext', () => {
  it('derives IDF from the candidates when no corpus statistics are given', () => {
    const candidates = [
      analyzeCandidate({ text: 'aspirin heart' }),
      analyzeCandidate({ text: 'heart lungs' }),
      analyzeCandidate({ text: 'heart kidney' }),
    ];
    const context = queryContext(['aspirin', 'heart', 'absent'], candidates);
    expect(context.idf[0]).toBeCloseTo(idf(3, 1));
    expect(context.idf[1]).toBeCloseTo(idf(3, 3));
    expect(context.idf[0]).toBeGreaterThan(context.idf[1]);
    expect(context.idf[1]).toBeGreaterThan(0); // a term every candidate has still counts a little
    expect(context.idf[2]).toBeCloseTo(idf(3, 0));
    expect(context.averageLength).toBeCloseTo(2);
  });

  it('uses corpus statistics when given, and no inherited property counts as a frequency', () => {
    const context = queryContext(['constructor', 'aspirin'], [], {
      documentCount: 100,
      averageLength: 50,
      documentFrequency: { aspirin: 10 },
    });
    expect(context.idf[0]).toBeCloseTo(idf(100, 0));
    expect(context.idf[1]).toBeCloseTo(idf(100, 10));
    expect(context.averageLength).toBe(50);
    expect(context.idfSum).toBeCloseTo(context.idf[0] + context.idf[1]);
  });
});
