import { createRequire } from 'node:module';

/** The BPE encodings Keel counts tokens with (the ones current OpenAI-compatible models use). */
export type Encoding = 'o200k_base' | 'cl100k_base';

export const ENCODINGS: readonly Encoding[] = ['o200k_base', 'cl100k_base'];

/**
 * Longest unbroken run of non-whitespace (or of whitespace) that Keel hands the tokenizer. BPE cost
 * is quadratic in the length of one pre-tokenized piece (10,000 'a' take ~60 ms, 100,000 take ~5 s),
 * so the chunker and the packer never produce a longer run; below this bound a piece costs < 2 ms.
 */
export const MAX_RUN_CHARS = 1_000;

/** Exact token counting for one encoding. Text that spells a special token counts as plain text. */
export interface Tokenizer {
  readonly encoding: Encoding;
  count(text: string): number;
  /**
   * The exact count when it is at most `limit`; otherwise some number greater than `limit`. Stops
   * encoding once past the limit, so asking whether a long text fits costs O(limit), not O(text).
   */
  countUpTo(text: string, limit: number): number;
  encode(text: string): number[];
  decode(tokens: readonly number[]): string;
}

/** The part of gpt-tokenizer's per-encoding module that Keel uses. */
interface EncodingModule {
  countTokens(text: string, options: EncodeOptions): number;
  isWithinTokenLimit(text: string, limit: number, options: EncodeOptions): number | false;
  encode(text: string, options: EncodeOptions): number[];
  decode(tokens: Iterable<number>): string;
}

interface EncodeOptions {
  disallowedSpecial: Set<string>;
}

// gpt-tokenizer throws on text that contains a special token such as `<|endoftext|>` unless it is
// told otherwise. Documents and queries are untrusted text: they are counted as what they are.
const PLAIN_TEXT: EncodeOptions = { disallowedSpecial: new Set() };

// The encoding tables are large (o200k takes ~170 ms to load): they are loaded synchronously on
// first use through the package's CommonJS build, so that importing this module costs nothing and
// the API process never pays for an encoding only its worker threads use.
const requireFromHere = createRequire(import.meta.url);
const SPECIFIERS: Record<Encoding, string> = {
  o200k_base: 'gpt-tokenizer/encoding/o200k_base',
  cl100k_base: 'gpt-tokenizer/encoding/cl100k_base',
};

const modules = new Map<Encoding, EncodingModule>();
const tokenizers = new Map<Encoding, Tokenizer>();

export function isEncoding(value: unknown): value is Encoding {
  return typeof value === 'string' && (ENCODINGS as readonly string[]).includes(value);
}

/** The tokenizer of an encoding. Cheap: the encoding itself loads on the first count/encode/decode. */
export function getTokenizer(encoding: Encoding): Tokenizer {
  if (!isEncoding(encoding)) {
    throw new RangeError(
      `unknown encoding '${String(encoding)}'; expected ${ENCODINGS.join(' or ')}`,
    );
  }
  let tokenizer = tokenizers.get(encoding);
  if (!tokenizer) {
    tokenizer = {
      encoding,
      count: (text) => (text.length === 0 ? 0 : load(encoding).countTokens(text, PLAIN_TEXT)),
      countUpTo: (text, limit) => countUpTo(load(encoding), text, limit),
      encode: (text) => (text.length === 0 ? [] : load(encoding).encode(text, PLAIN_TEXT)),
      decode: (tokens) => (tokens.length === 0 ? '' : load(encoding).decode(tokens)),
    };
    tokenizers.set(encoding, tokenizer);
  }
  return tokenizer;
}

/** Loads encodings now (worker threads call this at start-up so no job pays the first load). */
export function warmTokenizers(encodings: readonly Encoding[] = ENCODINGS): void {
  for (const encoding of encodings) load(getTokenizer(encoding).encoding);
}

/** The encodings loaded so far in this thread, in load order. */
export function loadedEncodings(): Encoding[] {
  return [...modules.keys()];
}

// Below this many characters per token of the limit, a full count is cheaper than the early-exit
// walk (which pays for a generator step per pre-tokenized piece).
const EARLY_EXIT_CHARS_PER_TOKEN = 8;

function countUpTo(module: EncodingModule, text: string, limit: number): number {
  if (text.length === 0) return 0;
  if (text.length <= limit * EARLY_EXIT_CHARS_PER_TOKEN)
    return module.countTokens(text, PLAIN_TEXT);
  const within = module.isWithinTokenLimit(text, limit, PLAIN_TEXT);
  return within === false ? limit + 1 : within;
}

function load(encoding: Encoding): EncodingModule {
  let module = modules.get(encoding);
  if (!module) {
    module = requireFromHere(SPECIFIERS[encoding]) as EncodingModule;
    modules.set(encoding, module);
  }
  return module;
}
