import type { ToolCallOutcome } from './tool-types.js';

/**
 * The content of the `tool` message for one outcome. A tool's output is data from outside,
 * possibly written to look like instructions; labelling it (and keeping it inside a JSON string
 * value, never spliced into the prompt as text) lets the system prompt tell the model to treat
 * everything under `output` as untrusted data. Errors carry their code so the model can react
 * (fix the arguments, try another tool, give up).
 */
export function renderToolOutcome(outcome: ToolCallOutcome): string {
  return JSON.stringify(
    outcome.ok
      ? { type: 'tool_output', tool: outcome.name, untrusted: true, output: outcome.result }
      : {
          type: 'tool_error',
          tool: outcome.name,
          code: outcome.error.code,
          message: outcome.error.message,
        },
  );
}
