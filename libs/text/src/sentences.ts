/** A sentence of a text: `text === input.slice(start, end)`. */
export interface Sentence {
  text: string;
  start: number;
  end: number;
}

// A fixed locale keeps the boundaries the same on every machine (Unicode's sentence rules do not
// vary by language in ICU's defaults anyway). Created on first use, then shared.
let segmenter: Intl.Segmenter | undefined;

const SPACE = /\s/u;

/**
 * Splits text into sentences with `Intl.Segmenter` (Unicode UAX #29 sentence boundaries; a line
 * break also ends a sentence). Each sentence is trimmed of surrounding whitespace and whitespace-only
 * segments are left out, so the sentences are in order, do not overlap and cover every
 * non-whitespace character of the input. Cost is linear in the length of the text.
 */
export function splitSentences(text: string): Sentence[] {
  segmenter ??= new Intl.Segmenter('en', { granularity: 'sentence' });
  const out: Sentence[] = [];
  for (const { segment, index } of segmenter.segment(text)) {
    // Scanned by hand: a `\s+$` regex backtracks quadratically over long inner runs of spaces.
    let start = index;
    let end = index + segment.length;
    while (start < end && SPACE.test(text[start])) start++;
    while (end > start && SPACE.test(text[end - 1])) end--;
    if (start < end) out.push({ text: text.slice(start, end), start, end });
  }
  return out;
}
