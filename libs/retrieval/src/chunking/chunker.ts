import { MAX_RUN_CHARS, splitSentences, type Tokenizer } from '@keel/text';

export { MAX_RUN_CHARS };

/** Smallest chunk size accepted, in tokens (a code point is at most 4 tokens in a byte-level BPE). */
export const MIN_CHUNK_SIZE = 16;

/** A chunk of a document: `text === document.slice(start, end)`, `tokens === count(text)`. */
export interface Chunk {
  index: number;
  text: string;
  start: number;
  end: number;
  tokens: number;
}

export interface ChunkOptions {
  /** Most tokens in one chunk. */
  chunkSize: number;
  /** Most tokens a chunk repeats from the end of the previous one. */
  chunkOverlap: number;
  tokenizer: Tokenizer;
}

interface Span {
  start: number;
  end: number;
}

type Level = 'paragraph' | 'sentence' | 'word';

/** Something a chunk is filled with; what level depends on whether the bigger unit fitted. */
interface Unit extends Span {
  level: Level;
  /** Estimated tokens the unit adds to a chunk after the unit before it (whitespace included). */
  cost: number;
  /** For words: which oversized sentence they belong to (overlap stays inside it); else -1. */
  sentence: number;
  /** Position in the section's unit list; -1 for sentences taken from a paragraph for overlap. */
  position: number;
}

interface Item extends Unit {
  overlap: boolean;
}

const WHITESPACE_RUN = /\s+/gu;
const WORD = /\S+/gu;

/**
 * Splits a document into token-bounded chunks: whole paragraphs (split at blank lines) while they
 * fit, else the sentences of a paragraph too big, else the words of a sentence too big, else pieces
 * of a word too big. A chunk then starts with the trailing whole sentences of the previous one that
 * total at most `chunkOverlap` tokens, or, where the cut falls inside an oversized sentence, with
 * its trailing words (a token window of at most `chunkOverlap` tokens).
 *
 * Chunks are trimmed substrings of the text, in order, never empty, each of at most `chunkSize`
 * tokens counted exactly on its own text, and together they cover every non-whitespace character.
 * A run of non-whitespace longer than {@link MAX_RUN_CHARS} is cut into pieces that never share a
 * chunk, and no chunk spans a run of whitespace that long: the tokenizer is never handed a longer
 * run (BPE is quadratic in it), so the cost stays linear in the length of the text.
 */
export function chunkText(text: string, options: ChunkOptions): Chunk[] {
  const { chunkSize, chunkOverlap, tokenizer } = options;
  if (!Number.isInteger(chunkSize) || chunkSize < MIN_CHUNK_SIZE) {
    throw new RangeError(`chunkSize must be an integer >= ${MIN_CHUNK_SIZE}, got ${chunkSize}`);
  }
  if (!Number.isInteger(chunkOverlap) || chunkOverlap < 0 || chunkOverlap >= chunkSize) {
    throw new RangeError(
      `chunkOverlap must be an integer in [0, chunkSize), got ${chunkOverlap} (chunkSize ${chunkSize})`,
    );
  }
  const chunker = new SectionChunker(text, chunkSize, chunkOverlap, tokenizer);
  for (const paragraphs of sections(text)) chunker.chunk(paragraphs);
  return chunker.chunks;
}

/**
 * The text as sections of paragraphs. Chunks never cross a section boundary: a whitespace run
 * longer than MAX_RUN_CHARS, and each piece of a longer non-whitespace run (its own section).
 * Linear: one pass over the whitespace runs.
 */
function sections(text: string): Span[][] {
  const out: Span[][] = [];
  let paragraphs: Span[] = [];
  let paragraphStart = -1;
  let lastEnd = -1;
  const closeParagraph = (): void => {
    if (paragraphStart >= 0) paragraphs.push({ start: paragraphStart, end: lastEnd });
    paragraphStart = -1;
  };
  const closeSection = (): void => {
    closeParagraph();
    if (paragraphs.length > 0) out.push(paragraphs);
    paragraphs = [];
  };
  const word = (start: number, end: number): void => {
    if (end <= start) return;
    if (end - start > MAX_RUN_CHARS) {
      closeSection();
      for (const piece of runPieces(text, start, end)) out.push([piece]);
      return;
    }
    if (paragraphStart < 0) paragraphStart = start;
    lastEnd = end;
  };
  let position = 0;
  for (const match of text.matchAll(WHITESPACE_RUN)) {
    const space = match[0];
    word(position, match.index);
    position = match.index + space.length;
    if (space.length > MAX_RUN_CHARS) closeSection();
    else if (isParagraphBreak(space)) closeParagraph();
  }
  word(position, text.length);
  closeSection();
  return out;
}

/** A blank line (a line of nothing but whitespace) or a Unicode paragraph separator. */
function isParagraphBreak(space: string): boolean {
  const first = space.indexOf('\n');
  return (first >= 0 && space.indexOf('\n', first + 1) >= 0) || space.includes('\u2029');
}

/**
 * Cuts a run of non-whitespace into pieces of at most MAX_RUN_CHARS characters, at sentence
 * boundaries where there are some (a paragraph of Chinese or Japanese has no spaces), else anywhere
 * but inside a surrogate pair.
 */
function runPieces(text: string, start: number, end: number): Span[] {
  const pieces: Span[] = [];
  let from = start;
  let lastBoundary = -1;
  for (const sentence of splitSentences(text.slice(start, end))) {
    const boundary = start + sentence.end;
    while (boundary - from > MAX_RUN_CHARS) {
      const cut = lastBoundary > from ? lastBoundary : codePointCut(text, from + MAX_RUN_CHARS);
      pieces.push({ start: from, end: cut });
      from = cut;
    }
    lastBoundary = boundary;
  }
  if (from < end) pieces.push({ start: from, end });
  return pieces;
}

/** `position`, or one less where it would split a surrogate pair. */
function codePointCut(text: string, position: number): number {
  const before = text.charCodeAt(position - 1);
  const after = text.charCodeAt(position);
  const splitsPair = before >= 0xd800 && before <= 0xdbff && after >= 0xdc00 && after <= 0xdfff;
  return splitsPair ? position - 1 : position;
}

class SectionChunker {
  readonly chunks: Chunk[] = [];
  private nextSentence = 0;
  /** Budget of one piece of a word too big for a chunk: small enough to serve as overlap. */
  private readonly pieceTokens: number;

  constructor(
    private readonly text: string,
    private readonly chunkSize: number,
    private readonly chunkOverlap: number,
    private readonly tokenizer: Tokenizer,
  ) {
    this.pieceTokens = chunkOverlap === 0 ? chunkSize : Math.max(4, Math.floor(chunkOverlap / 2));
  }

  chunk(paragraphs: Span[]): void {
    const units = this.units(paragraphs);
    let items: Item[] = [];
    let fresh = 0;
    let estimate = 0;
    let next = 0;
    while (next < units.length || fresh > 0) {
      const unit: Unit | undefined = units[next];
      if (fresh > 0 && (unit === undefined || estimate + unit.cost > this.chunkSize)) {
        const emitted = this.emit(items, fresh);
        next = emitted.next;
        items = this.overlap(emitted.kept, units[next]);
        fresh = 0;
        estimate = items.reduce((sum, item) => sum + item.cost, 0);
        continue;
      }
      if (unit === undefined) break;
      // Overlap gives way to the unit that must come next.
      while (items.length > 0 && estimate + unit.cost > this.chunkSize) {
        estimate -= items[0].cost;
        items.shift();
      }
      items.push({ ...unit, overlap: false });
      estimate += unit.cost;
      fresh++;
      next++;
    }
  }

  /**
   * Emits the chunk made of `items`, exactly counted. Where the estimate was short, leading overlap
   * goes first, then trailing units go back to the queue. Returns the items kept and the position
   * of the next unit to place.
   */
  private emit(items: Item[], fresh: number): { kept: Item[]; next: number } {
    let first = 0;
    let end = items.length;
    let tokens = this.count(items[first].start, items[end - 1].end);
    while (tokens > this.chunkSize) {
      if (items[first].overlap) first++;
      else if (fresh > 1) {
        end--;
        fresh--;
      } else {
        // A unit on its own was counted exactly when it was chosen; this cannot happen.
        throw new Error('chunker: a single unit exceeds the chunk size');
      }
      tokens = this.count(items[first].start, items[end - 1].end);
    }
    const start = items[first].start;
    const stop = items[end - 1].end;
    this.chunks.push({
      index: this.chunks.length,
      text: this.text.slice(start, stop),
      start,
      end: stop,
      tokens,
    });
    const last = items[end - 1];
    return { kept: items.slice(first, end), next: last.position + 1 };
  }

  /**
   * Items the next chunk starts with: trailing whole sentences of the chunk just emitted, or its
   * trailing words when the next unit continues the same oversized sentence (a token window); at
   * most chunkOverlap tokens, never the whole chunk.
   */
  private overlap(kept: Item[], nextUnit: Unit | undefined): Item[] {
    if (this.chunkOverlap === 0 || nextUnit === undefined || kept.length === 0) return [];
    const last = kept[kept.length - 1];
    const insideSentence =
      nextUnit.level === 'word' && last.level === 'word' && last.sentence === nextUnit.sentence;
    const chunkStart = kept[0].start;
    const taken: Unit[] = [];
    let total = 0;
    const take = (unit: Unit): boolean => {
      if (unit.start <= chunkStart || total + unit.cost > this.chunkOverlap) return false;
      taken.push(unit);
      total += unit.cost;
      return true;
    };
    walk: for (let k = kept.length - 1; k >= 0; k--) {
      const item = kept[k];
      if (insideSentence) {
        if (item.level !== 'word' || item.sentence !== last.sentence || !take(item)) break;
      } else if (item.level === 'sentence') {
        if (!take(item)) break;
      } else if (item.level === 'paragraph') {
        for (const sentence of this.sentencesFromEnd(item)) if (!take(sentence)) break walk;
      } else {
        break;
      }
    }
    taken.reverse();
    // The estimate is close, not exact: the overlap must hold in exact tokens.
    while (taken.length > 0 && this.count(taken[0].start, last.end) > this.chunkOverlap) {
      taken.shift();
    }
    return taken.map((unit) => ({ ...unit, overlap: true }));
  }

  /** The sentences of a paragraph, last first, each costed like a unit (lazily: few are needed). */
  private *sentencesFromEnd(paragraph: Unit): Generator<Unit> {
    const sentences = splitSentences(this.text.slice(paragraph.start, paragraph.end));
    for (let k = sentences.length - 1; k >= 0; k--) {
      const start = paragraph.start + sentences[k].start;
      const end = paragraph.start + sentences[k].end;
      const costFrom = k > 0 ? paragraph.start + sentences[k - 1].end : start;
      yield {
        start,
        end,
        level: 'sentence',
        cost: this.count(costFrom, end),
        sentence: -1,
        position: -1,
      };
    }
  }

  /** The units of a section: each at most chunkSize tokens on its own, counted exactly. */
  private units(paragraphs: Span[]): Unit[] {
    const units: Unit[] = [];
    let previousEnd = -1;
    const add = (span: Span, level: Level, tokens: number, sentence = -1): void => {
      const cost =
        previousEnd < 0
          ? tokens
          : level === 'paragraph'
            ? tokens + this.count(previousEnd, span.start)
            : this.count(previousEnd, span.end);
      units.push({ ...span, level, cost, sentence, position: units.length });
      previousEnd = span.end;
    };
    for (const paragraph of paragraphs) {
      const tokens = this.countUpTo(paragraph.start, paragraph.end);
      if (tokens <= this.chunkSize) {
        add(paragraph, 'paragraph', tokens);
        continue;
      }
      for (const s of splitSentences(this.text.slice(paragraph.start, paragraph.end))) {
        const sentence = { start: paragraph.start + s.start, end: paragraph.start + s.end };
        const sentenceTokens = this.countUpTo(sentence.start, sentence.end);
        if (sentenceTokens <= this.chunkSize) {
          add(sentence, 'sentence', sentenceTokens);
          continue;
        }
        const id = this.nextSentence++;
        for (const w of s.text.matchAll(WORD)) {
          const word = {
            start: sentence.start + w.index,
            end: sentence.start + w.index + w[0].length,
          };
          const wordTokens = this.countUpTo(word.start, word.end);
          if (wordTokens <= this.chunkSize) {
            add(word, 'word', wordTokens, id);
            continue;
          }
          for (const piece of this.wordPieces(word)) add(piece, 'word', piece.tokens, id);
        }
      }
    }
    return units;
  }

  /**
   * Pieces of a word (at most MAX_RUN_CHARS long) of at most pieceTokens tokens each, cut between
   * code points: the longest prefix that fits, found by galloping then bisecting.
   */
  private wordPieces(word: Span): Array<Span & { tokens: number }> {
    const budget = this.pieceTokens;
    const pieces: Array<Span & { tokens: number }> = [];
    let from = word.start;
    while (from < word.end) {
      const one = codePointEnd(this.text, from);
      let fit = one;
      let fitTokens = this.count(from, one);
      let miss = -1;
      for (let step = budget; miss < 0; step *= 2) {
        const probe = codePointCut(this.text, Math.min(word.end, from + step));
        if (probe <= fit) {
          if (probe === word.end) break;
          continue;
        }
        const tokens = this.countUpTo(from, probe, budget);
        if (tokens <= budget) {
          fit = probe;
          fitTokens = tokens;
          if (probe === word.end) break;
        } else miss = probe;
      }
      while (miss - fit > 1) {
        const middle = codePointCut(this.text, (fit + miss) >>> 1);
        if (middle <= fit) break;
        const tokens = this.countUpTo(from, middle, budget);
        if (tokens <= budget) {
          fit = middle;
          fitTokens = tokens;
        } else miss = middle;
      }
      pieces.push({ start: from, end: fit, tokens: fitTokens });
      from = fit;
    }
    return pieces;
  }

  private count(start: number, end: number): number {
    return this.tokenizer.count(this.text.slice(start, end));
  }

  private countUpTo(start: number, end: number, limit = this.chunkSize): number {
    return this.tokenizer.countUpTo(this.text.slice(start, end), limit);
  }
}

/** The end of the code point that starts at `position`. */
function codePointEnd(text: string, position: number): number {
  return codePointCut(text, position + 1) === position ? position + 2 : position + 1;
}
