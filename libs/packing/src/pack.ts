import { splitSentences, type Tokenizer } from '@keel/text';
import { isNearDuplicate, shingles } from './dedup.js';
import { PackBudgetTooSmallError } from './errors.js';
import { boundRuns } from './runs.js';
import { DEFAULT_TEMPLATE, parseTemplate, renderTemplate } from './templates.js';

export interface PackPassage {
  id: string;
  text: string;
  /** Higher packs first; input order breaks ties and passages without a score come last. */
  score?: number;
  title?: string;
  documentId?: string;
}

export interface PackOptions {
  query: string;
  passages: readonly PackPassage[];
  /** Most tokens the whole prompt may take, template and query included. */
  budgetTokens: number;
  tokenizer: Tokenizer;
  /** A template with `{context}` and `{query}` placeholders; {@link DEFAULT_TEMPLATE} if absent. */
  template?: string;
  /** A passage whose word-shingle Jaccard with an included one is at least this is dropped. */
  dedupThreshold?: number;
}

export interface PackedPassage {
  id: string;
  /** The `[n]` marker the passage carries in the prompt: 1-based, in inclusion order. */
  marker: number;
  /** Tokens of the passage's block in the context (marker, title and text) counted on its own. */
  tokens: number;
  /** Cut at a sentence boundary to fit the budget. */
  truncated: boolean;
  /** The text as it stands in the prompt. */
  text: string;
  title?: string;
  documentId?: string;
}

export type DropReason = 'duplicate' | 'budget';

export interface DroppedPassage {
  id: string;
  reason: DropReason;
}

export interface Citation {
  marker: number;
  id: string;
  documentId?: string;
  title?: string;
}

export interface PackResult {
  prompt: string;
  /** Exactly `tokenizer.count(prompt)`, and never more than the budget. */
  tokens: number;
  included: PackedPassage[];
  dropped: DroppedPassage[];
  citations: Citation[];
}

export const DEFAULT_DEDUP_THRESHOLD = 0.8;

/** Between two passages of the context. */
const PASSAGE_SEPARATOR = '\n\n';

interface Candidate {
  passage: PackPassage;
  text: string;
  title: string | undefined;
}

interface Placed {
  candidate: Candidate;
  marker: number;
  text: string;
  truncated: boolean;
  /** Exact tokens of the passage's block on its own. */
  tokens: number;
}

/**
 * Packs passages into a prompt under a token budget: best score first; near-duplicates of a
 * passage already included are dropped; each included passage is numbered `[n]` for citation.
 * The first passage that does not fit is cut at a sentence boundary to use what is left of the
 * budget, and packing stops there. The count is exact: the final prompt is counted and, where
 * concatenation cost more than the parts, trimmed further, so `tokens === count(prompt)` and
 * `tokens <= budgetTokens` always.
 *
 * @throws PackBudgetTooSmallError when the template and the query alone exceed the budget.
 * @throws PackingError (VALIDATION_FAILED) for a template without exactly one of each placeholder.
 */
export function packContext(options: PackOptions): PackResult {
  const { passages, budgetTokens, tokenizer } = options;
  const threshold = options.dedupThreshold ?? DEFAULT_DEDUP_THRESHOLD;
  if (!Number.isInteger(budgetTokens) || budgetTokens < 1) {
    throw new RangeError(`budgetTokens must be a positive integer, got ${budgetTokens}`);
  }
  if (!(threshold > 0 && threshold <= 1)) {
    throw new RangeError(`dedupThreshold must be in (0, 1], got ${threshold}`);
  }
  const template = parseTemplate(options.template ?? DEFAULT_TEMPLATE);
  const query = boundRuns(options.query.trim());
  const baseTokens = tokenizer.count(renderTemplate(template, '', query));
  if (baseTokens > budgetTokens) throw new PackBudgetTooSmallError(baseTokens, budgetTokens);

  const separatorTokens = tokenizer.count(PASSAGE_SEPARATOR);
  const placed: Placed[] = [];
  const placedShingles: Array<Set<string>> = [];
  const dropped: DroppedPassage[] = [];
  let estimate = baseTokens;
  let stopped = false;
  for (const passage of byScore(passages)) {
    if (stopped) {
      dropped.push({ id: passage.id, reason: 'budget' });
      continue;
    }
    // A blank passage is placed like any other (a marker and nothing else): dropping it would need
    // a reason the API contract does not have, and skipping it would lose track of it.
    const text = boundRuns(passage.text.trim());
    const passageShingles = shingles(text);
    if (isNearDuplicate(passageShingles, placedShingles, threshold)) {
      dropped.push({ id: passage.id, reason: 'duplicate' });
      continue;
    }
    const title = passage.title === undefined ? undefined : boundRuns(passage.title.trim());
    const candidate: Candidate = { passage, text, title: title || undefined };
    const marker = placed.length + 1;
    const overhead = placed.length > 0 ? separatorTokens : 0;
    const room = budgetTokens - estimate - overhead;
    const tokens = room > 0 ? tokenizer.countUpTo(block(marker, candidate.title, text), room) : 1;
    if (tokens <= room) {
      placed.push({ candidate, marker, text, truncated: false, tokens });
      placedShingles.push(passageShingles);
      estimate += overhead + tokens;
      continue;
    }
    stopped = true;
    const cut = room > 0 ? longestFittingPrefix(candidate, marker, room, tokenizer) : undefined;
    if (cut === undefined) dropped.push({ id: passage.id, reason: 'budget' });
    else placed.push({ candidate, marker, text: cut.text, truncated: true, tokens: cut.tokens });
  }

  // The estimate adds up parts; BPE over the joined prompt can differ by a token at each seam.
  // Count the real prompt, and trim the last passage a sentence at a time until it fits.
  let prompt = render(template, placed, query);
  let tokens = tokenizer.count(prompt);
  while (tokens > budgetTokens) {
    const last = placed[placed.length - 1];
    if (last === undefined) throw new Error('packing: the empty context was counted within budget');
    const sentences = splitSentences(last.text);
    if (sentences.length > 1) {
      last.text = last.text.slice(0, sentences[sentences.length - 2].end);
      last.truncated = true;
      last.tokens = tokenizer.count(block(last.marker, last.candidate.title, last.text));
    } else {
      placed.pop();
      dropped.push({ id: last.candidate.passage.id, reason: 'budget' });
    }
    prompt = render(template, placed, query);
    tokens = tokenizer.count(prompt);
  }

  const included = placed.map((p): PackedPassage => {
    const { id, documentId } = p.candidate.passage;
    const title = p.candidate.title;
    return {
      id,
      marker: p.marker,
      tokens: p.tokens,
      truncated: p.truncated,
      text: p.text,
      ...(title !== undefined ? { title } : {}),
      ...(documentId !== undefined ? { documentId } : {}),
    };
  });
  return { prompt, tokens, included, dropped, citations: included.map(toCitation) };
}

/** A passage in the context: its marker, its title on the first line when it has one, its text. */
function block(marker: number, title: string | undefined, text: string): string {
  return title === undefined ? `[${marker}] ${text}` : `[${marker}] ${title}\n${text}`;
}

function render(
  template: ReturnType<typeof parseTemplate>,
  placed: readonly Placed[],
  query: string,
): string {
  const context = placed
    .map((p) => block(p.marker, p.candidate.title, p.text))
    .join(PASSAGE_SEPARATOR);
  return renderTemplate(template, context, query);
}

/**
 * The longest run of whole leading sentences of the passage whose block fits `room` tokens, by
 * bisection over the sentence count (each probe stops counting once past the room).
 */
function longestFittingPrefix(
  candidate: Candidate,
  marker: number,
  room: number,
  tokenizer: Tokenizer,
): { text: string; tokens: number } | undefined {
  const sentences = splitSentences(candidate.text);
  const prefix = (n: number): string => candidate.text.slice(0, sentences[n - 1].end);
  // The whole text did not fit, so at most all but the last sentence can.
  let low = 0;
  let lowTokens = 0;
  let high = sentences.length;
  while (high - low > 1) {
    const middle = (low + high) >>> 1;
    const tokens = tokenizer.countUpTo(block(marker, candidate.title, prefix(middle)), room);
    if (tokens <= room) {
      low = middle;
      lowTokens = tokens;
    } else high = middle;
  }
  return low > 0 ? { text: prefix(low), tokens: lowTokens } : undefined;
}

/** Descending score, stable; passages without a score (or NaN) after those with one. */
function byScore(passages: readonly PackPassage[]): PackPassage[] {
  const key = (p: PackPassage): number =>
    typeof p.score === 'number' && !Number.isNaN(p.score) ? p.score : -Infinity;
  return passages
    .map((passage, index) => ({ passage, index, score: key(passage) }))
    .sort((a, b) => (a.score !== b.score ? (a.score > b.score ? -1 : 1) : a.index - b.index))
    .map((entry) => entry.passage);
}

function toCitation(p: PackedPassage): Citation {
  return {
    marker: p.marker,
    id: p.id,
    ...(p.documentId !== undefined ? { documentId: p.documentId } : {}),
    ...(p.title !== undefined ? { title: p.title } : {}),
  };
}
