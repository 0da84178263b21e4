import { ENCODINGS, getTokenizer, MAX_RUN_CHARS, splitSentences, type Tokenizer } from '@keel/text';
import { describe, expect, it } from 'vitest';
import { PackBudgetTooSmallError, PackingError } from './errors.js';
import { packContext, type PackPassage, type PackResult } from './pack.js';
import { DEFAULT_TEMPLATE, PROMPT_TEMPLATES, parseTemplate, renderTemplate } from './templates.js';

const tokenizer = getTokenizer('o200k_base');

/** Mulberry32: a small seeded PRNG, so a failing case can be replayed. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const TOPICS = [
  'Keel sizes its worker pool from the cgroup CPU quota, not from the host core count.',
  'BM25 scores a document by term frequency, inverse document frequency and length.',
  'The packer counts the final prompt exactly and trims it until it fits the budget.',
  'Reciprocal rank fusion merges the ranked lists of the lexical and the dense retrievers.',
  'KEDA scales the worker deployments on the depth of their BullMQ queues.',
  'Cross-encoders rerank candidates by reading the query and the passage together.',
];

/** A passage of `sentences` distinct sentences about topic `topic`. */
function passageText(topic: number, sentences: number): string {
  return Array.from(
    { length: sentences },
    (_, i) => `${TOPICS[(topic + i) % TOPICS.length].slice(0, -1)} (note ${topic}.${i}).`,
  ).join(' ');
}

/** Checks what packContext promises of every result. */
function checkResult(result: PackResult, passages: readonly PackPassage[], budget: number): void {
  expect(result.tokens).toBe(tokenizer.count(result.prompt));
  expect(result.tokens).toBeLessThanOrEqual(budget);
  const ids = [...result.included.map((p) => p.id), ...result.dropped.map((p) => p.id)];
  expect(ids.sort()).toEqual(passages.map((p) => p.id).sort());
  result.included.forEach((p, i) => {
    expect(p.marker).toBe(i + 1);
    expect(result.prompt).toContain(
      `[${p.marker}] ${p.title === undefined ? '' : `${p.title}\n`}${p.text}`,
    );
  });
  expect(result.citations).toEqual(
    result.included.map((p) => ({
      marker: p.marker,
      id: p.id,
      ...(p.documentId !== undefined ? { documentId: p.documentId } : {}),
      ...(p.title !== undefined ? { title: p.title } : {}),
    })),
  );
}

describe('packContext', () => {
  it('packs by descending score, stable for ties, and numbers passages in that order', () => {
    const passages: PackPassage[] = [
      { id: 'low', text: passageText(0, 1), score: 0.1 },
      { id: 'tie-a', text: passageText(1, 1), score: 0.5 },
      { id: 'high', text: passageText(2, 1), score: 0.9 },
      { id: 'tie-b', text: passageText(3, 1), score: 0.5 },
      { id: 'none', text: passageText(4, 1) },
    ];
    const result = packContext({ query: 'q', passages, budgetTokens: 2_000, tokenizer });
    expect(result.included.map((p) => [p.marker, p.id])).toEqual([
      [1, 'high'],
      [2, 'tie-a'],
      [3, 'tie-b'],
      [4, 'low'],
      [5, 'none'],
    ]);
    expect(result.prompt.indexOf('[1] ')).toBeLessThan(result.prompt.indexOf('[2] '));
    checkResult(result, passages, 2_000);
  });

  it('keeps input order when there are no scores', () => {
    const passages = [3, 1, 2].map((n) => ({ id: `p${n}`, text: passageText(n, 1) }));
    const result = packContext({ query: 'q', passages, budgetTokens: 2_000, tokenizer });
    expect(result.included.map((p) => p.id)).toEqual(['p3', 'p1', 'p2']);
  });

  it('drops near-duplicates of included passages', () => {
    const original = passageText(0, 4);
    const edited = original.replace('host core count', 'machine core count');
    const passages: PackPassage[] = [
      { id: 'a', text: original, score: 3 },
      { id: 'a-edited', text: edited, score: 2 },
      { id: 'b', text: passageText(3, 4), score: 1 },
    ];
    const result = packContext({ query: 'q', passages, budgetTokens: 4_000, tokenizer });
    expect(result.included.map((p) => p.id)).toEqual(['a', 'b']);
    expect(result.dropped).toEqual([{ id: 'a-edited', reason: 'duplicate' }]);
    // Markers stay contiguous: the passage after a dropped one takes the next number.
    expect(result.included.map((p) => p.marker)).toEqual([1, 2]);
    // With a threshold of 1 only identical shingle sets are duplicates.
    const strict = packContext({
      query: 'q',
      passages,
      budgetTokens: 4_000,
      tokenizer,
      dedupThreshold: 1,
    });
    expect(strict.included.map((p) => p.id)).toEqual(['a', 'a-edited', 'b']);
    checkResult(strict, passages, 4_000);
  });

  it('cuts the first passage that does not fit at a sentence boundary, then stops', () => {
    const first = passageText(0, 2);
    const second = passageText(2, 12);
    const passages: PackPassage[] = [
      { id: 'first', text: first },
      { id: 'second', text: second },
      { id: 'small', text: 'Tiny.' },
    ];
    const base = tokenizer.count(renderTemplate(parseTemplate(DEFAULT_TEMPLATE), '', 'q'));
    const budget = base + tokenizer.count(`[1] ${first}`) + 80;
    const result = packContext({ query: 'q', passages, budgetTokens: budget, tokenizer });
    expect(result.included.map((p) => [p.id, p.truncated])).toEqual([
      ['first', false],
      ['second', true],
    ]);
    // Packing stopped: the small passage that would fit is dropped for budget.
    expect(result.dropped).toEqual([{ id: 'small', reason: 'budget' }]);
    const cut = result.included[1].text;
    const sentences = splitSentences(second);
    const kept = sentences.findIndex((s) => s.end === cut.length);
    expect(kept).toBeGreaterThanOrEqual(0);
    expect(second.startsWith(cut)).toBe(true);
    // It used the budget: one more sentence would not have fitted.
    const longer = result.prompt.replace(cut, second.slice(0, sentences[kept + 1].end));
    expect(tokenizer.count(longer)).toBeGreaterThan(budget);
    checkResult(result, passages, budget);
  });

  it('trims further when the joined prompt costs more than its parts', () => {
    // With no separator, "ax" + "the" is 3 tokens where "ax" and "the" are 1 each: the estimate
    // (template 1 + block 8) fits a budget of 9, the real prompt (10 tokens) does not.
    const template = '{context}{query}';
    const passages = [{ id: 'a', text: 'First one. Second ax' }];
    expect(tokenizer.count('the') + tokenizer.count('[1] First one. Second ax')).toBe(9);
    expect(tokenizer.count('[1] First one. Second axthe')).toBe(10);
    const result = packContext({ query: 'the', passages, budgetTokens: 9, tokenizer, template });
    expect(result.included).toMatchObject([{ id: 'a', text: 'First one.', truncated: true }]);
    checkResult(result, passages, 9);
    // A passage of one sentence goes entirely.
    const single = [{ id: 'b', text: 'ax' }];
    const alone = packContext({
      query: 'the',
      passages: single,
      budgetTokens: 5,
      tokenizer,
      template,
    });
    expect(alone).toMatchObject({ prompt: 'the', tokens: 1, included: [] });
    expect(alone.dropped).toEqual([{ id: 'b', reason: 'budget' }]);
  });

  it('drops the passage that does not fit when not even its first sentence does', () => {
    const passages: PackPassage[] = [
      { id: 'fits', text: 'Short and sweet.' },
      { id: 'huge', text: `${'word '.repeat(400)}end.` },
    ];
    const base = tokenizer.count(renderTemplate(parseTemplate(DEFAULT_TEMPLATE), '', 'q'));
    const budget = base + 40;
    const result = packContext({ query: 'q', passages, budgetTokens: budget, tokenizer });
    expect(result.included.map((p) => p.id)).toEqual(['fits']);
    expect(result.dropped).toEqual([{ id: 'huge', reason: 'budget' }]);
    checkResult(result, passages, budget);
  });

  it('fills the template placeholders in one pass', () => {
    const template = 'Passages:\n{context}\n---\nQuestion ({query})?';
    const query = 'what is {context} here';
    const passages: PackPassage[] = [
      { id: 'a', text: 'Alpha text.', title: 'Alpha', documentId: 'doc-a' },
      { id: 'b', text: 'Beta text.' },
    ];
    const result = packContext({ query, passages, budgetTokens: 500, tokenizer, template });
    expect(result.prompt).toBe(
      'Passages:\n[1] Alpha\nAlpha text.\n\n[2] Beta text.\n---\nQuestion (what is {context} here)?',
    );
    expect(result.citations).toEqual([
      { marker: 1, id: 'a', documentId: 'doc-a', title: 'Alpha' },
      { marker: 2, id: 'b' },
    ]);
    checkResult(result, passages, 500);
  });

  it('ships templates that have both placeholders and rejects ones that do not', () => {
    for (const template of Object.values(PROMPT_TEMPLATES))
      expect(() => parseTemplate(template)).not.toThrow();
    expect(DEFAULT_TEMPLATE).toMatch(/only/u);
    for (const template of ['{context} only', '{query} only', '{context}{context}{query}']) {
      const attempt = (): PackResult =>
        packContext({ query: 'q', passages: [], budgetTokens: 100, tokenizer, template });
      expect(attempt).toThrow(PackingError);
      expect(attempt).toThrow(expect.objectContaining({ code: 'VALIDATION_FAILED' }));
    }
  });

  it('throws PACK_BUDGET_TOO_SMALL when the template and query alone exceed the budget', () => {
    const base = tokenizer.count(renderTemplate(parseTemplate(DEFAULT_TEMPLATE), '', 'a question'));
    let error: unknown;
    try {
      packContext({ query: 'a question', passages: [], budgetTokens: base - 1, tokenizer });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(PackBudgetTooSmallError);
    expect(error).toMatchObject({
      code: 'PACK_BUDGET_TOO_SMALL',
      requiredTokens: base,
      budgetTokens: base - 1,
    });
    // Exactly the base: valid, with an empty context.
    const passages = [{ id: 'a', text: 'Some text.' }];
    const result = packContext({ query: 'a question', passages, budgetTokens: base, tokenizer });
    expect(result).toMatchObject({
      tokens: base,
      included: [],
      dropped: [{ id: 'a', reason: 'budget' }],
    });
  });

  it('rejects a budget or threshold out of range', () => {
    const run = (budgetTokens: number, dedupThreshold?: number) => () =>
      packContext({ query: 'q', passages: [], budgetTokens, tokenizer, dedupThreshold });
    expect(run(0)).toThrow(RangeError);
    expect(run(10.5)).toThrow(RangeError);
    expect(run(100, 0)).toThrow(RangeError);
    expect(run(100, 1.5)).toThrow(RangeError);
  });

  it('places a blank passage like any other', () => {
    const passages = [
      { id: 'blank', text: ' \n ' },
      { id: 'real', text: 'Real text.' },
    ];
    const result = packContext({ query: 'q', passages, budgetTokens: 500, tokenizer });
    expect(result.included.map((p) => [p.id, p.marker, p.text])).toEqual([
      ['blank', 1, ''],
      ['real', 2, 'Real text.'],
    ]);
    expect(result.dropped).toEqual([]);
    checkResult(result, passages, 500);
  });

  it('packs a passage with a 10,000-character unbroken token without handing it to the tokenizer', () => {
    const longest = { run: 0 };
    const spy: Tokenizer = {
      ...tokenizer,
      count: (text) => {
        for (const m of text.matchAll(/\S+/gu)) longest.run = Math.max(longest.run, m[0].length);
        return tokenizer.count(text);
      },
      countUpTo: (text, limit) => {
        for (const m of text.matchAll(/\S+/gu)) longest.run = Math.max(longest.run, m[0].length);
        return tokenizer.countUpTo(text, limit);
      },
    };
    const blob = 'Q'.repeat(10_000);
    const passages = [
      { id: 'blob', text: `Header line. ${blob} trailer.` },
      { id: 'next', text: 'Next passage.' },
    ];
    for (const [query, budget] of [
      ['find the blob', 300],
      ['find the blob', 5_000],
      [`find ${'z'.repeat(20_000)}`, 15_000],
    ] as const) {
      const result = packContext({
        query,
        passages,
        budgetTokens: budget,
        tokenizer: spy,
      });
      expect(result.tokens).toBe(tokenizer.count(result.prompt));
      expect(result.tokens).toBeLessThanOrEqual(budget);
      expect(longest.run).toBeLessThanOrEqual(MAX_RUN_CHARS);
    }
  });

  it.each(ENCODINGS)('is exact and within budget over generated inputs (%s)', (encoding) => {
    const exact = getTokenizer(encoding);
    const random = prng(encoding === 'o200k_base' ? 7 : 8);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
    const endings = ['.', '!', '?', '.\n', ':\n\n', '。', '…', ''];
    let truncations = 0;
    for (let trial = 0; trial < 150; trial++) {
      const passages: PackPassage[] = [];
      const count = Math.floor(random() * 12);
      for (let i = 0; i < count; i++) {
        const sentences: string[] = [];
        const n = 1 + Math.floor(random() * 8);
        for (let k = 0; k < n; k++) {
          const words = Array.from({ length: 1 + Math.floor(random() * 25) }, () =>
            pick([
              'keel',
              'token',
              'budget',
              'ü',
              '東京',
              '42',
              '3.5',
              'x-y',
              '😀',
              '"q"',
              'naïve',
            ]),
          );
          sentences.push(words.join(pick([' ', ' ', '  ', '\t'])) + pick(endings));
        }
        const text =
          random() < 0.2 && passages.length > 0
            ? passages[0].text
            : sentences.join(pick([' ', '\n']));
        passages.push({
          id: `p${i}`,
          text,
          ...(random() < 0.7 ? { score: Math.floor(random() * 5) } : {}),
          ...(random() < 0.4 ? { title: pick(['Title', 'Über', 'A: B']) } : {}),
          ...(random() < 0.5 ? { documentId: `d${i}` } : {}),
        });
      }
      const template = pick([
        undefined,
        '{context}\n{query}',
        'Q: {query}\n\nContext:\n{context}\n',
      ]);
      const query = pick(['what is keel?', 'budget', '東京 token']);
      const base = exact.count(
        renderTemplate(parseTemplate(template ?? DEFAULT_TEMPLATE), '', query),
      );
      const budget = base + Math.floor(random() * 400);
      const result = packContext({
        query,
        passages,
        budgetTokens: budget,
        tokenizer: exact,
        template,
      });
      expect(result.tokens).toBe(exact.count(result.prompt));
      expect(result.tokens).toBeLessThanOrEqual(budget);
      const ids = [...result.included.map((p) => p.id), ...result.dropped.map((p) => p.id)];
      expect(ids.sort()).toEqual(passages.map((p) => p.id).sort());
      for (const p of result.included) {
        const source = passages.find((s) => s.id === p.id)!.text.trim();
        expect(source.startsWith(p.text)).toBe(true);
        expect(p.truncated).toBe(p.text !== source);
        if (p.truncated) truncations++;
      }
      result.included.forEach((p, i) => expect(p.marker).toBe(i + 1));
    }
    // The generated budgets are tight enough that the truncation path is exercised.
    expect(truncations).toBeGreaterThan(20);
  });
});
