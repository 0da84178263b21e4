import type { Tokenizer } from '@keel/text';
import { renderToolOutcome } from '../render.js';
import type { ToolCallOutcome } from '../tool-types.js';

export interface Observation {
  toolCallId: string;
  name: string;
  /** The outcome as `renderToolOutcome` labels it: untrusted output, or an error with its code. */
  content: string;
  truncated: boolean;
  tokens: number;
}

/** Characters per token are rarely above 6 in English or JSON: cut this long before counting. */
const CHARS_PER_TOKEN_BOUND = 6;

/**
 * What the model is shown of one tool call: the outcome as JSON, cut to `maxTokens` with Keel's
 * tokenizer. The text is cut by characters first, so a 256 KiB result costs the event loop the
 * tokenization of a few thousand tokens, not of the whole result.
 */
export function observe(
  outcome: ToolCallOutcome,
  tokenizer: Tokenizer,
  maxTokens: number,
): Observation {
  const full = renderToolOutcome(outcome);
  const base = { toolCallId: outcome.id, name: outcome.name };
  const head = full.slice(0, maxTokens * CHARS_PER_TOKEN_BOUND);
  const tokens = tokenizer.encode(head);
  if (tokens.length <= maxTokens && head.length === full.length) {
    return { ...base, content: full, truncated: false, tokens: tokens.length };
  }
  const kept = tokenizer.decode(tokens.slice(0, maxTokens));
  const content = `${kept}… [tool result cut to ${maxTokens} tokens of ${full.length} characters]`;
  return { ...base, content, truncated: true, tokens: Math.min(tokens.length, maxTokens) + 16 };
}
