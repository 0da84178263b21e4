import { describe, expect, it } from 'vitest';
import { errorCode, keelRequests, parseMix, requestBody, validResponse } from './keel-target.js';

describe('the request mix', () => {
  it('parses weights into shares', () => {
    expect(parseMix('retrieve=0.7,query=0.3')).toEqual({ retrieve: 0.7, query: 0.3 });
    expect(parseMix('retrieve=3, query=1')).toEqual({ retrieve: 0.75, query: 0.25 });
    expect(parseMix('query=1,retrieve=0')).toEqual({ query: 1 });
    for (const bad of ['rerank=1', 'retrieve', 'retrieve=-1', 'retrieve=0', 'query=1,query=2']) {
      expect(() => parseMix(bad), bad).toThrow();
    }
  });

  it('draws endpoints by share and queries from the set, reproducibly per seed', () => {
    const options = {
      url: 'http://127.0.0.1:1',
      collection: 'c',
      queries: ['a', 'b', 'c'],
      mix: { retrieve: 0.7, query: 0.3 },
    };
    const draw = (seed: number) => {
      const next = keelRequests({ ...options, seed });
      return Array.from({ length: 2000 }, () => next().endpoint);
    };
    const a = draw(1);
    expect(a).toEqual(draw(1));
    expect(a).not.toEqual(draw(2));
    const share = a.filter((e) => e === 'retrieve').length / a.length;
    expect(share).toBeGreaterThan(0.65);
    expect(share).toBeLessThan(0.75);
  });

  it('sends DTO-shaped bodies and checks DTO-shaped responses', () => {
    expect(requestBody('retrieve', 'sample', 'q', 5)).toEqual({
      collection: 'sample',
      query: 'q',
      topK: 5,
    });
    expect(requestBody('query', 'sample', 'q')).toEqual({ collection: 'sample', query: 'q' });
    expect(
      validResponse('retrieve', { hits: [], degraded: false, failedLegs: [], timings: {} }),
    ).toBe(true);
    expect(validResponse('retrieve', { results: [] })).toBe(false);
    expect(
      validResponse('query', {
        answer: 'x',
        citations: [],
        contexts: [],
        usage: { promptTokens: 3, completionTokens: 0 },
      }),
    ).toBe(true);
    expect(validResponse('query', { answer: 'x' })).toBe(false);
    expect(errorCode('{"statusCode":429,"code":"OVERLOADED"}')).toBe('OVERLOADED');
    expect(errorCode('<html>')).toBeNull();
  });
});
