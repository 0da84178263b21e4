import { getTokenizer } from '@keel/text';
import { describe, expect, it } from 'vitest';
import { extractAnswer, NO_ANSWER, type AnswerPassage } from './extract.js';
import { packContext } from './pack.js';

const passages: AnswerPassage[] = [
  {
    id: 'chunk-7',
    marker: 1,
    documentId: 'ops-guide',
    title: 'Operations',
    text: 'Keel exposes Prometheus metrics on /metrics. Logs are JSON lines written by pino.',
  },
  {
    id: 'chunk-3',
    marker: 2,
    documentId: 'runtime',
    text:
      'Keel reads the CPU quota from the cgroup and sizes its worker pool to match. ' +
      'It never uses the host core count.\nThe heap limit follows the container memory.',
  },
  {
    id: 'chunk-9',
    marker: 3,
    text: 'Each worker thread runs pure functions: scoring, packing and metrics.',
  },
];

describe('extractAnswer', () => {
  it('picks the sentence with the query terms and cites its marker', () => {
    const result = extractAnswer({
      query: 'How does Keel size the worker pool from the cgroup quota?',
      passages,
      maxSentences: 1,
    });
    expect(result.answer).toBe(
      'Keel reads the CPU quota from the cgroup and sizes its worker pool to match. [2]',
    );
    expect(result.citations).toEqual([{ marker: 2, id: 'chunk-3', documentId: 'runtime' }]);
  });

  it('weighs a term every sentence has less than a rare one', () => {
    // "keel" is in two of the six sentences, "json" in one: the JSON sentence wins the only slot
    // (with equal weights the earlier "Keel exposes ..." would).
    const result = extractAnswer({ query: 'keel json', passages, maxSentences: 1 });
    expect(result.answer).toBe('Logs are JSON lines written by pino. [1]');
  });

  it('orders the chosen sentences by their place in the context and cites only what it uses', () => {
    const result = extractAnswer({ query: 'prometheus heap functions', passages });
    expect(result.answer).toBe(
      [
        'Keel exposes Prometheus metrics on /metrics. [1]',
        'The heap limit follows the container memory. [2]',
        'Each worker thread runs pure functions: scoring, packing and metrics. [3]',
      ].join(' '),
    );
    expect(result.citations.map((c) => c.marker)).toEqual([1, 2, 3]);
    const two = extractAnswer({ query: 'cgroup quota heap memory', passages });
    expect(two.citations).toEqual([{ marker: 2, id: 'chunk-3', documentId: 'runtime' }]);
    expect(two.answer.match(/\[2\]/gu)).toHaveLength(2);
  });

  it('keeps at most maxSentences and says a repeated sentence once', () => {
    const copies: AnswerPassage[] = [
      { id: 'a', marker: 1, text: 'Budgets are exact. Budgets are exact.' },
      { id: 'b', marker: 2, text: 'Budgets   are\nexact.' },
      { id: 'c', marker: 3, text: 'Exact budgets matter. Budgets hold.' },
    ];
    const result = extractAnswer({ query: 'exact budgets', passages: copies, maxSentences: 2 });
    expect(result.answer).toBe('Budgets are exact. [1] Exact budgets matter. [3]');
    expect(() => extractAnswer({ query: 'q', passages, maxSentences: 0 })).toThrow(RangeError);
  });

  it('leaves out a sentence that shares only a weak term with the question', () => {
    // "keel" alone is a weak match next to a sentence with cgroup, quota, pool and keel.
    const result = extractAnswer({ query: 'keel cgroup quota pool', passages });
    expect(result.answer).toBe(
      'Keel reads the CPU quota from the cgroup and sizes its worker pool to match. [2]',
    );
  });

  it('says nothing relevant was found for an empty context or no shared term', () => {
    expect(extractAnswer({ query: 'anything', passages: [] })).toEqual({
      answer: NO_ANSWER,
      citations: [],
    });
    expect(extractAnswer({ query: 'kubernetes autoscaler', passages })).toEqual({
      answer: NO_ANSWER,
      citations: [],
    });
  });

  it('answers from the passages packContext included, with their markers', () => {
    const packed = packContext({
      query: 'cgroup quota',
      passages: [
        { id: 'x', text: 'Unrelated text about logging.', score: 2 },
        { id: 'y', text: 'The pool follows the cgroup quota.', score: 1, documentId: 'd' },
      ],
      budgetTokens: 1_000,
      tokenizer: getTokenizer('o200k_base'),
    });
    const result = extractAnswer({ query: 'cgroup quota', passages: packed.included });
    expect(result.answer).toBe('The pool follows the cgroup quota. [2]');
    expect(result.citations).toEqual([{ marker: 2, id: 'y', documentId: 'd' }]);
  });
});
