import { describe, expect, it } from 'vitest';
import {
  citationPrecision,
  contextRecall,
  exactMatch,
  normalizeAnswer,
  scoreAnswer,
  tokenF1,
  type AnswerPassage,
} from './answers.js';

describe('SQuAD v1.1 normalisation', () => {
  // Expected values printed by normalize_answer of the official SQuAD v1.1 evaluate script.
  it.each([
    ['The Quick, Brown Fox!', 'quick brown fox'],
    ['A. Smith', 'smith'],
    ['Theory of an apple', 'theory of apple'],
    ["don't", 'dont'],
    ['U.S.A.', 'usa'],
    ['THE END', 'end'],
    ['(a) the answer [an]', 'answer'],
    ['an_the a1 the2 the', 'anthe a1 the2'],
    ['  spaced   out\n\tanswer ', 'spaced out answer'],
    ['1,000.5 km²', '10005 km²'],
    ['Émile the café', 'émile café'],
    ['ΣΊΣΥΦΟΣ', 'σίσυφος'],
    // Python's \b is Unicode-aware: no article inside "éthe", one before a dash.
    ['éthe', 'éthe'],
    ['the–end', '–end'],
    ['ⅻ the ⅻ', 'ⅻ ⅻ'],
    // A combining mark is not a word character in Python's re.
    ['the\u0301 end', '\u0301 end'],
    // Only ASCII punctuation is removed.
    ['“the”', '“ ”'],
    // Python's str.split() whitespace, not JavaScript's \s.
    ['Paris\u00a0France', 'paris france'],
    ['x\u001fy', 'x y'],
    ['x\ufeffy', 'x\ufeffy'],
    ['', ''],
  ])('%j → %j', (input, expected) => {
    expect(normalizeAnswer(input)).toBe(expected);
  });
});

describe('exact match', () => {
  it('compares normalised strings and takes the best gold', () => {
    expect(exactMatch('the Eiffel Tower.', ['Eiffel Tower'])).toBe(1);
    expect(exactMatch('Eiffel', ['Eiffel Tower'])).toBe(0);
    expect(exactMatch('Paris', ['London', 'PARIS!'])).toBe(1);
  });

  it('an empty prediction matches only an empty gold; no golds scores 0', () => {
    expect(exactMatch('', ['Paris'])).toBe(0);
    expect(exactMatch('', [''])).toBe(1);
    expect(exactMatch('The.', [''])).toBe(1);
    expect(exactMatch('Paris', [])).toBe(0);
  });
});

describe('token F1', () => {
  it('is the overlap F1 of normalised tokens', () => {
    // [cat sat on mat] against [cat on mat]: P = 3/4, R = 1
    expect(tokenF1('the cat sat on the mat', ['a cat on a mat'])).toBeCloseTo(6 / 7, 12);
    expect(tokenF1('Paris', ['paris'])).toBe(1);
    expect(tokenF1('Berlin', ['Paris'])).toBe(0);
  });

  it('counts repeated tokens as a multiset intersection (Counter &)', () => {
    // common {x: 1, y: 1}: P = 2/4, R = 2/3
    expect(tokenF1('x x x y', ['x y y'])).toBeCloseTo(0.5714285714285715, 12);
  });

  it('takes the maximum over gold answers', () => {
    // vs "obama": P = 1/2, R = 1 → 2/3; vs "president barack obama": P = 1, R = 2/3 → 0.8
    expect(tokenF1('Barack Obama', ['Obama', 'President Barack Obama'])).toBeCloseTo(0.8, 12);
  });

  it('scores 0 for an empty prediction, even against an empty gold (v1.1 behaviour)', () => {
    expect(tokenF1('', ['Paris'])).toBe(0);
    expect(tokenF1('', [''])).toBe(0);
    expect(tokenF1('the', ['a'])).toBe(0);
    expect(tokenF1('Paris', [])).toBe(0);
  });

  it('ignores punctuation and articles', () => {
    expect(tokenF1('The answer is: "42".', ['answer is 42'])).toBe(1);
  });
});

const passage = (id: string, text: string, documentId?: string): AnswerPassage => ({
  id,
  text,
  ...(documentId !== undefined ? { documentId } : {}),
});

describe('context recall', () => {
  const contexts = [
    passage('c1', 'The pool follows the cgroup CPU quota.', 'runtime'),
    passage('c2', 'Workers are started by Piscina. They share one queue.', 'ops'),
    passage('c3', 'Keel packs passages within a token budget.', 'packing'),
  ];

  it('with gold document ids: the share of them that some passage comes from', () => {
    expect(contextRecall(contexts, { docIds: ['runtime', 'missing'] })).toBe(0.5);
    expect(contextRecall(contexts, { docIds: ['ops', 'ops', 'packing'] })).toBe(1);
    // Document ids win over the other kinds of gold.
    expect(contextRecall(contexts, { docIds: ['missing'], answers: ['Piscina'] })).toBe(0);
  });

  it('with gold contexts: the share found in the joined context by normalised containment', () => {
    expect(
      contextRecall(contexts, {
        contexts: ['the pool follows the CGroup cpu quota', 'An unrelated sentence.'],
      }),
    ).toBe(0.5);
    // Split across two adjacent passages still counts.
    expect(contextRecall(contexts, { contexts: ['CPU quota. Workers are started'] })).toBe(1);
    // Whole tokens only: "quot" is not in "quota".
    expect(contextRecall(contexts, { contexts: ['cpu quot'] })).toBe(0);
  });

  it('with answers only: 1 when any gold answer appears in the context', () => {
    expect(contextRecall(contexts, { answers: ['Redis', 'piscina'] })).toBe(1);
    expect(contextRecall(contexts, { answers: ['Redis'] })).toBe(0);
    // A gold that normalises to nothing is found nowhere.
    expect(contextRecall(contexts, { answers: ['the'] })).toBe(0);
  });

  it('scores 0 without gold evidence or without context', () => {
    expect(contextRecall(contexts, {})).toBe(0);
    expect(contextRecall(contexts, { docIds: [], contexts: [], answers: [] })).toBe(0);
    expect(contextRecall([], { docIds: ['runtime'] })).toBe(0);
  });
});

describe('citation precision', () => {
  it('with gold document ids: the share of cited passages from a gold document', () => {
    const cited = [passage('a', 'x', 'd1'), passage('b', 'y', 'd2'), passage('c', 'z')];
    expect(citationPrecision(cited, { docIds: ['d1'] })).toBeCloseTo(1 / 3, 12);
    // The same passage cited twice counts once.
    expect(citationPrecision([...cited, passage('a', 'x', 'd1')], { docIds: ['d1'] })).toBeCloseTo(
      1 / 3,
      12,
    );
  });

  it('with gold contexts: a passage that contains one, or is a part of one', () => {
    const gold = {
      contexts: ['The pool follows the cgroup CPU quota. Workers are started by Piscina.'],
    };
    const cited = [
      passage(
        'whole',
        'Intro. The pool follows the cgroup CPU quota. Workers are started by Piscina.',
      ),
      passage('part', 'Workers are started by Piscina.'),
      passage('other', 'Keel packs passages within a token budget.'),
      passage('overlap', 'started by Piscina. Keel packs passages'),
    ];
    expect(citationPrecision(cited, gold)).toBe(0.5);
  });

  it('with answers only: a passage that contains a gold answer', () => {
    const cited = [passage('a', 'It was built in 1889.'), passage('b', 'It is in Paris.')];
    expect(citationPrecision(cited, { answers: ['1889'] })).toBe(0.5);
  });

  it('scores 0 when nothing is cited or there is no gold', () => {
    expect(citationPrecision([], { docIds: ['d1'] })).toBe(0);
    expect(citationPrecision([passage('a', 'x', 'd1')], {})).toBe(0);
  });
});

describe('scoreAnswer', () => {
  it('computes the four answer measures of one query', () => {
    const contexts = [passage('c1', 'The tower was completed in 1889.', 'eiffel')];
    expect(
      scoreAnswer({
        answer: 'In 1889.',
        contexts,
        cited: contexts,
        gold: { docIds: ['eiffel', 'paris'], answers: ['1889'] },
      }),
    ).toEqual({
      exact_match: 0,
      token_f1: expect.closeTo(2 / 3, 12),
      context_recall: 0.5,
      citation_precision: 1,
    });
  });
});
