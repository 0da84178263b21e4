import { MAX_RUN_CHARS } from '@keel/text';

const RUN = /\S+|\s+/gu;
const SPACE = /\s/u;

/**
 * Text as it may go into a prompt: unchanged, except that a run of non-whitespace longer than
 * MAX_RUN_CHARS gets a space every MAX_RUN_CHARS characters and a run of whitespace that long
 * becomes one line break (or space). BPE cost is quadratic in the length of a run, so a pasted blob
 * must not make counting the prompt slow; such runs carry nothing a model can use anyway.
 */
export function boundRuns(text: string): string {
  if (text.length <= MAX_RUN_CHARS) return text;
  return text.replace(RUN, (run) => {
    if (run.length <= MAX_RUN_CHARS) return run;
    if (SPACE.test(run[0])) {
      const breaks = run.split('\n').length - 1;
      return breaks >= 2 ? '\n\n' : breaks === 1 ? '\n' : ' ';
    }
    const pieces: string[] = [];
    let from = 0;
    while (run.length - from > MAX_RUN_CHARS) {
      let cut = from + MAX_RUN_CHARS;
      const code = run.charCodeAt(cut - 1);
      if (code >= 0xd800 && code <= 0xdbff) cut--;
      pieces.push(run.slice(from, cut));
      from = cut;
    }
    pieces.push(run.slice(from));
    return pieces.join(' ');
  });
}
