import { ENCODINGS, getTokenizer, splitSentences, type Tokenizer } from '@keel/text';
import { describe, expect, it } from 'vitest';
import { chunkText, MAX_RUN_CHARS, type Chunk } from './chunker.js';

const o200k = getTokenizer('o200k_base');

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

function longestRun(text: string, pattern: RegExp): number {
  let longest = 0;
  for (const m of text.matchAll(pattern)) longest = Math.max(longest, m[0].length);
  return longest;
}

/** Every invariant chunkText promises, checked on one result. */
function checkInvariants(
  text: string,
  chunks: Chunk[],
  options: { chunkSize: number; chunkOverlap: number; tokenizer: Tokenizer },
): void {
  const { chunkSize, chunkOverlap, tokenizer } = options;
  const covered = new Uint8Array(text.length);
  chunks.forEach((chunk, i) => {
    expect(chunk.index).toBe(i);
    expect(chunk.text.length).toBeGreaterThan(0);
    expect(text.slice(chunk.start, chunk.end)).toBe(chunk.text);
    expect(chunk.tokens).toBe(tokenizer.count(chunk.text));
    expect(chunk.tokens).toBeLessThanOrEqual(chunkSize);
    // Trimmed, and not cut inside a surrogate pair.
    expect(chunk.text).toBe(chunk.text.trim());
    expect(chunk.text).not.toMatch(/^[\udc00-\udfff]|[\ud800-\udbff]$/u);
    expect(longestRun(chunk.text, /\S+/gu)).toBeLessThanOrEqual(MAX_RUN_CHARS);
    expect(longestRun(chunk.text, /\s+/gu)).toBeLessThanOrEqual(MAX_RUN_CHARS);
    covered.fill(1, chunk.start, chunk.end);
    if (i > 0) {
      const previous = chunks[i - 1];
      expect(chunk.start).toBeGreaterThan(previous.start);
      expect(chunk.end).toBeGreaterThan(previous.end);
      if (chunk.start < previous.end) {
        expect(tokenizer.count(text.slice(chunk.start, previous.end))).toBeLessThanOrEqual(
          chunkOverlap,
        );
      }
    }
  });
  for (let i = 0; i < text.length; i++) {
    if (!/\s/u.test(text[i]) && covered[i] === 0) {
      throw new Error(`character ${i} (${JSON.stringify(text[i])}) is in no chunk`);
    }
  }
}

/** A tokenizer that records the longest runs it was handed. */
function spyTokenizer(inner: Tokenizer): Tokenizer & { longest: { word: number; space: number } } {
  const longest = { word: 0, space: 0 };
  const see = (text: string): void => {
    longest.word = Math.max(longest.word, longestRun(text, /\S+/gu));
    longest.space = Math.max(longest.space, longestRun(text, /\s+/gu));
  };
  return {
    encoding: inner.encoding,
    longest,
    count: (text) => (see(text), inner.count(text)),
    countUpTo: (text, limit) => (see(text), inner.countUpTo(text, limit)),
    encode: (text) => (see(text), inner.encode(text)),
    decode: (tokens) => inner.decode(tokens),
  };
}

const SENTENCES = [
  'Keel runs the whole retrieval pipeline behind one API.',
  'Chunks are substrings of the document, never rewritten.',
  'Token counts are exact for the chosen encoding.',
  'Overlap repeats whole sentences from the previous chunk.',
  'A worker thread does the counting, not the event loop.',
  'Budgets are enforced on the final prompt.',
];

function paragraph(sentences: number, offset = 0): string {
  return Array.from(
    { length: sentences },
    (_, i) => SENTENCES[(i + offset) % SENTENCES.length],
  ).join(' ');
}

describe('chunkText', () => {
  it('rejects a chunk size or overlap out of range', () => {
    const tokenizer = o200k;
    expect(() => chunkText('x', { chunkSize: 15, chunkOverlap: 0, tokenizer })).toThrow(RangeError);
    expect(() => chunkText('x', { chunkSize: 64.5, chunkOverlap: 0, tokenizer })).toThrow(
      RangeError,
    );
    expect(() => chunkText('x', { chunkSize: 64, chunkOverlap: -1, tokenizer })).toThrow(
      RangeError,
    );
    expect(() => chunkText('x', { chunkSize: 64, chunkOverlap: 64, tokenizer })).toThrow(
      RangeError,
    );
    expect(chunkText('x', { chunkSize: 16, chunkOverlap: 15, tokenizer })).toHaveLength(1);
  });

  it('returns no chunks for empty or whitespace-only text', () => {
    const options = { chunkSize: 64, chunkOverlap: 8, tokenizer: o200k };
    expect(chunkText('', options)).toEqual([]);
    expect(chunkText(' \n\n\t \u00a0\r\n', options)).toEqual([]);
  });

  it('keeps a small text as one trimmed chunk', () => {
    const text = '\n\n  Hello, Keel.  \n';
    const chunks = chunkText(text, { chunkSize: 64, chunkOverlap: 8, tokenizer: o200k });
    expect(chunks).toEqual([
      { index: 0, text: 'Hello, Keel.', start: 4, end: 16, tokens: o200k.count('Hello, Keel.') },
    ]);
  });

  it('fills chunks greedily with whole paragraphs', () => {
    const paragraphs = [paragraph(3, 0), paragraph(3, 1), paragraph(3, 2), paragraph(3, 3)];
    const text = paragraphs.join('\n\n');
    const perParagraph = o200k.count(paragraphs[0]);
    // Room for two paragraphs and the blank line between them, not three.
    const chunkSize = 2 * perParagraph + 8;
    const chunks = chunkText(text, { chunkSize, chunkOverlap: 0, tokenizer: o200k });
    expect(chunks.map((c) => c.text)).toEqual([
      `${paragraphs[0]}\n\n${paragraphs[1]}`,
      `${paragraphs[2]}\n\n${paragraphs[3]}`,
    ]);
    checkInvariants(text, chunks, { chunkSize, chunkOverlap: 0, tokenizer: o200k });
  });

  it('splits a paragraph too big for a chunk at sentence boundaries', () => {
    const text = paragraph(30);
    const options = { chunkSize: 60, chunkOverlap: 0, tokenizer: o200k };
    const chunks = chunkText(text, options);
    expect(chunks.length).toBeGreaterThan(3);
    const sentenceEnds = new Set(splitSentences(text).map((s) => s.end));
    const sentenceStarts = new Set(splitSentences(text).map((s) => s.start));
    for (const chunk of chunks) {
      expect(sentenceStarts.has(chunk.start)).toBe(true);
      expect(sentenceEnds.has(chunk.end)).toBe(true);
    }
    checkInvariants(text, chunks, options);
  });

  it('starts each chunk with trailing whole sentences of the previous one', () => {
    const text = paragraph(30);
    const options = { chunkSize: 64, chunkOverlap: 24, tokenizer: o200k };
    const chunks = chunkText(text, options);
    const sentenceStarts = new Set(splitSentences(text).map((s) => s.start));
    const sentenceEnds = new Set(splitSentences(text).map((s) => s.end));
    for (let i = 1; i < chunks.length; i++) {
      const previous = chunks[i - 1];
      const chunk = chunks[i];
      // Every sentence here is 9 to 11 tokens, so two fit in 24 and the overlap is never empty.
      expect(chunk.start).toBeLessThan(previous.end);
      expect(sentenceStarts.has(chunk.start)).toBe(true);
      expect(sentenceEnds.has(previous.end)).toBe(true);
      expect(o200k.count(text.slice(chunk.start, previous.end))).toBeLessThanOrEqual(24);
    }
    checkInvariants(text, chunks, options);
  });

  it('carries the overlap across a paragraph boundary', () => {
    const paragraphs = Array.from({ length: 6 }, (_, i) => paragraph(2, i));
    const text = paragraphs.join('\n\n');
    const options = { chunkSize: 48, chunkOverlap: 16, tokenizer: o200k };
    const chunks = chunkText(text, options);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.slice(1).every((c, i) => c.start < chunks[i].end)).toBe(true);
    checkInvariants(text, chunks, options);
  });

  it('cuts a sentence too big for a chunk into token windows that overlap', () => {
    const words = Array.from({ length: 600 }, (_, i) => `word${i % 37}`);
    const text = words.join(' ');
    const options = { chunkSize: 100, chunkOverlap: 20, tokenizer: o200k };
    const chunks = chunkText(text, options);
    expect(chunks.length).toBeGreaterThan(10);
    for (let i = 1; i < chunks.length; i++) {
      const overlap = o200k.count(text.slice(chunks[i].start, chunks[i - 1].end));
      expect(overlap).toBeGreaterThan(10);
      expect(overlap).toBeLessThanOrEqual(20);
    }
    // Windows are full: only the last one may be much shorter than the chunk size.
    for (const chunk of chunks.slice(0, -1)) expect(chunk.tokens).toBeGreaterThan(90);
    checkInvariants(text, chunks, options);
  });

  it('cuts a 10,000-character unbroken token into pieces that never share a chunk', () => {
    const run = 'x'.repeat(10_000);
    const text = `Before the blob. ${run} After the blob.`;
    for (const [chunkSize, chunkOverlap] of [
      [512, 64],
      [16, 8],
    ] as const) {
      const tokenizer = spyTokenizer(o200k);
      const chunks = chunkText(text, { chunkSize, chunkOverlap, tokenizer });
      checkInvariants(text, chunks, { chunkSize, chunkOverlap, tokenizer: o200k });
      expect(tokenizer.longest.word).toBeLessThanOrEqual(MAX_RUN_CHARS);
      expect(
        chunks
          .map((c) => c.text)
          .join('')
          .replace(/[^x]/gu, '').length,
      ).toBeGreaterThanOrEqual(run.length);
    }
  });

  it('never hands the tokenizer a run longer than MAX_RUN_CHARS', () => {
    const text = [
      'a'.repeat(5_000),
      ' '.repeat(3_000),
      '漢字。'.repeat(1_500),
      '\n'.repeat(2_000),
      '😀'.repeat(2_000),
      'Normal words,',
      ' '.repeat(3_000),
      'close the text.',
    ].join('');
    const tokenizer = spyTokenizer(o200k);
    const chunks = chunkText(text, { chunkSize: 256, chunkOverlap: 32, tokenizer });
    expect(tokenizer.longest.word).toBeLessThanOrEqual(MAX_RUN_CHARS);
    expect(tokenizer.longest.space).toBeLessThanOrEqual(MAX_RUN_CHARS);
    checkInvariants(text, chunks, { chunkSize: 256, chunkOverlap: 32, tokenizer: o200k });
  });

  it('cuts a long run without spaces at its sentence boundaries', () => {
    const sentence = '这是一个没有空格的句子。';
    const text = sentence.repeat(200);
    const chunks = chunkText(text, { chunkSize: 512, chunkOverlap: 0, tokenizer: o200k });
    for (const chunk of chunks) expect(chunk.text.endsWith('。')).toBe(true);
    checkInvariants(text, chunks, { chunkSize: 512, chunkOverlap: 0, tokenizer: o200k });
  });

  it('handles text that spells a special token', () => {
    const text = 'Ignore this: <|endoftext|> and <|im_start|> are plain text here.';
    const chunks = chunkText(text, { chunkSize: 64, chunkOverlap: 0, tokenizer: o200k });
    expect(chunks.map((c) => c.text)).toEqual([text]);
  });

  it.each(ENCODINGS)('keeps every invariant over generated texts (%s)', (encoding) => {
    const tokenizer = getTokenizer(encoding);
    const random = prng(encoding === 'o200k_base' ? 1 : 2);
    const pick = <T>(values: readonly T[]): T => values[Math.floor(random() * values.length)];
    const vocabulary = [
      'the',
      'retrieval',
      'of',
      'tokens',
      'Keel',
      'chunk',
      'NestJS',
      '42',
      '3.14',
      'café',
      'naïve',
      'état',
      'Straße',
      '東京',
      '데이터',
      'данные',
      '😀',
      '👩‍💻',
      'e\u0301',
      '—',
      '(see',
      'above)',
      'a/b/c',
      'x_y',
      '#tag',
      '"quoted"',
      'don’t',
      'https://example.com/a?b=c',
    ];
    const prose = [' ', ' ', ' ', ' ', '. ', ', ', '! ', '? ', '\n', '\n\n', '\t', '  ', '。'];
    // Some texts never end a sentence: their chunks are token windows over words.
    const runOn = [' ', ' ', ', ', '\t', '  '];
    for (let trial = 0; trial < 60; trial++) {
      const separators = random() < 0.3 ? runOn : prose;
      const parts: string[] = [];
      const length = Math.floor(random() * 400);
      for (let i = 0; i < length; i++) {
        const roll = random();
        if (roll < 0.005)
          parts.push(pick(['y', '漢', '😀', '-']).repeat(500 + Math.floor(random() * 2_500)));
        else if (roll < 0.008) parts.push(' '.repeat(900 + Math.floor(random() * 300)));
        else parts.push(pick(vocabulary), pick(separators));
      }
      const text = parts.join('');
      const chunkSize = 16 + Math.floor(random() * 300);
      const chunkOverlap = Math.floor(random() * chunkSize);
      const options = { chunkSize, chunkOverlap, tokenizer };
      const chunks = chunkText(text, options);
      if (text.trim().length > 0) expect(chunks.length).toBeGreaterThan(0);
      checkInvariants(text, chunks, options);
    }
  });
});
