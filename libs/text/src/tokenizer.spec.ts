import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import {
  ENCODINGS,
  getTokenizer,
  isEncoding,
  loadedEncodings,
  warmTokenizers,
  type Encoding,
} from './tokenizer.js';

describe('tokenizer loading', () => {
  // First in the file: nothing has counted yet in this module instance.
  it('loads an encoding on first use, not on getTokenizer', () => {
    expect(loadedEncodings()).toEqual([]);
    const tokenizer = getTokenizer('cl100k_base');
    expect(loadedEncodings()).toEqual([]);
    expect(tokenizer.count('hello world')).toBe(2);
    expect(loadedEncodings()).toEqual(['cl100k_base']);
    warmTokenizers(['o200k_base']);
    expect(loadedEncodings()).toEqual(['cl100k_base', 'o200k_base']);
  });

  it('does not load gpt-tokenizer when the module is imported', () => {
    // A fresh process records every module gpt-tokenizer resolves, through import or require.
    const modulePath = fileURLToPath(new URL('./tokenizer.ts', import.meta.url));
    const script = `
      import { registerHooks } from 'node:module';
      import { pathToFileURL } from 'node:url';
      const seen = [];
      registerHooks({ resolve(specifier, context, next) {
        const result = next(specifier, context);
        if (result.url.includes('gpt-tokenizer')) seen.push(result.url);
        return result;
      } });
      const { getTokenizer } = await import(pathToFileURL(${JSON.stringify(modulePath)}).href);
      const tokenizer = getTokenizer('o200k_base');
      const afterImport = seen.length;
      tokenizer.count('hello');
      console.log(JSON.stringify({ afterImport, afterCount: seen.length }));
    `;
    const output = execFileSync(
      process.execPath,
      ['--no-warnings', '--input-type=module', '--eval', script],
      { encoding: 'utf8' },
    );
    const { afterImport, afterCount } = JSON.parse(output) as Record<string, number>;
    expect(afterImport).toBe(0);
    expect(afterCount).toBeGreaterThan(0);
  });
});

describe('getTokenizer', () => {
  it('counts, encodes and decodes exactly with each encoding', () => {
    expect(getTokenizer('o200k_base').encode('hello world')).toEqual([24912, 2375]);
    expect(getTokenizer('cl100k_base').encode('hello world')).toEqual([15339, 1917]);
    const text = 'Keel packs context: 東京, café, 😀 and\n\ttabs.';
    for (const encoding of ENCODINGS) {
      const tokenizer = getTokenizer(encoding);
      expect(tokenizer.encoding).toBe(encoding);
      const tokens = tokenizer.encode(text);
      expect(tokenizer.count(text)).toBe(tokens.length);
      expect(tokenizer.decode(tokens)).toBe(text);
    }
    // The two encodings differ: a check that each name maps to its own table.
    const cjk = '東京都の人口は約千四百万人です。';
    expect(getTokenizer('o200k_base').count(cjk)).not.toBe(getTokenizer('cl100k_base').count(cjk));
  });

  it('handles empty input', () => {
    const tokenizer = getTokenizer('o200k_base');
    expect(tokenizer.count('')).toBe(0);
    expect(tokenizer.countUpTo('', 5)).toBe(0);
    expect(tokenizer.encode('')).toEqual([]);
    expect(tokenizer.decode([])).toBe('');
  });

  it('counts text that spells a special token as plain text', () => {
    const tokenizer = getTokenizer('o200k_base');
    const text = 'say <|endoftext|> then <|im_start|>';
    expect(tokenizer.count(text)).toBeGreaterThan(4);
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
  });

  it('countUpTo is exact up to the limit and stops past it', () => {
    const tokenizer = getTokenizer('o200k_base');
    const text = 'one two three four five six seven eight nine ten';
    const exact = tokenizer.count(text);
    expect(tokenizer.countUpTo(text, exact)).toBe(exact);
    expect(tokenizer.countUpTo(text, exact + 10)).toBe(exact);
    expect(tokenizer.countUpTo(text, exact - 1)).toBeGreaterThan(exact - 1);
    const long = text.repeat(10_000);
    expect(tokenizer.countUpTo(long, 16)).toBeGreaterThan(16);
    expect(tokenizer.countUpTo(long, 10 * exact)).toBeGreaterThan(10 * exact);
  });

  it('returns one instance per encoding and rejects unknown names', () => {
    expect(getTokenizer('o200k_base')).toBe(getTokenizer('o200k_base'));
    expect(() => getTokenizer('gpt2' as Encoding)).toThrow(RangeError);
    expect(isEncoding('cl100k_base')).toBe(true);
    expect(isEncoding('p50k_base')).toBe(false);
    expect(isEncoding(42)).toBe(false);
  });
});
