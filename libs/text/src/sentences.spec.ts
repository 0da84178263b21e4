import { describe, expect, it } from 'vitest';
import { splitSentences } from './sentences.js';

describe('splitSentences', () => {
  it('splits at sentence ends and line breaks, with offsets into the input', () => {
    const text = '  Hello world.  How are you?\nFine, thanks!\n\n東京です。大阪も。 ';
    const sentences = splitSentences(text);
    expect(sentences.map((s) => s.text)).toEqual([
      'Hello world.',
      'How are you?',
      'Fine, thanks!',
      '東京です。',
      '大阪も。',
    ]);
    for (const s of sentences) expect(text.slice(s.start, s.end)).toBe(s.text);
  });

  it('returns nothing for whitespace-only text', () => {
    expect(splitSentences('')).toEqual([]);
    expect(splitSentences(' \n\t\u00a0 ')).toEqual([]);
  });

  it('covers every non-whitespace character, in order, without overlap', () => {
    const text = 'a.b. c? "Quoted." (Paren.)\r\n3.14 is pi... e.g. this;\u2029next 😀 end';
    const sentences = splitSentences(text);
    let previousEnd = 0;
    const covered = new Uint8Array(text.length);
    for (const s of sentences) {
      expect(s.start).toBeGreaterThanOrEqual(previousEnd);
      expect(s.text).toBe(s.text.trim());
      covered.fill(1, s.start, s.end);
      previousEnd = s.end;
    }
    for (let i = 0; i < text.length; i++) {
      if (!/\s/u.test(text[i])) expect(covered[i]).toBe(1);
    }
  });

  it('stays linear over long inner runs of whitespace', () => {
    // A `\s+$` trim backtracks quadratically here (100,000 spaces inside one segment).
    const text = `start${' '.repeat(100_000)}end of it`;
    expect(splitSentences(text).map((s) => s.text.length)).toEqual([text.length]);
  });
});
