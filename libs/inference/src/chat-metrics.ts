import type { Registry } from 'prom-client';
import { sharedCounter, sharedHistogram } from '@keel/platform/metrics';
import { toKeelError } from '@keel/contracts/jobs';
import type { ChatClient, ChatCompletion, ChatStreamEvent } from './chat-types.js';

/** `ok`, or the error code of a failed call. */
type Outcome = string;

/**
 * A chat client that records every call on the process's registry: calls and their duration by
 * outcome (`ok` or the error code), and tokens by kind. What the model costs and how it behaves
 * is then on /metrics, next to Keel's own latency, without each caller counting.
 */
export function withChatMetrics(client: ChatClient, registry: Registry): ChatClient {
  const calls = sharedCounter<'mode' | 'outcome'>(registry, {
    name: 'keel_llm_calls_total',
    help: 'Chat-completion calls, by mode (complete, stream) and outcome (ok or the error code)',
    labelNames: ['mode', 'outcome'],
  });
  const seconds = sharedHistogram<'mode' | 'outcome'>(registry, {
    name: 'keel_llm_call_duration_seconds',
    help: 'Duration of chat-completion calls, retries included',
    labelNames: ['mode', 'outcome'],
    buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  });
  const tokens = sharedCounter<'kind'>(registry, {
    name: 'keel_llm_tokens_total',
    help: 'Tokens of chat-completion calls, by kind (prompt, completion); estimated ones included',
    labelNames: ['kind'],
  });

  const record = (mode: string, started: number, outcome: Outcome, done?: ChatCompletion) => {
    calls.inc({ mode, outcome });
    seconds.observe({ mode, outcome }, (performance.now() - started) / 1000);
    if (done) {
      tokens.inc({ kind: 'prompt' }, done.usage.promptTokens);
      tokens.inc({ kind: 'completion' }, done.usage.completionTokens);
    }
  };
  const outcomeOf = (error: unknown) => toKeelError(error)?.code ?? 'INTERNAL';

  return {
    model: client.model,
    async complete(request, options) {
      const started = performance.now();
      try {
        const done = await client.complete(request, options);
        record('complete', started, 'ok', done);
        return done;
      } catch (error) {
        record('complete', started, outcomeOf(error));
        throw error;
      }
    },
    async *stream(request, options): AsyncIterable<ChatStreamEvent> {
      const started = performance.now();
      let outcome: Outcome = 'CANCELLED';
      let done: ChatCompletion | undefined;
      try {
        for await (const event of client.stream(request, options)) {
          if (event.type === 'done') {
            done = event.completion;
            outcome = 'ok';
          }
          yield event;
        }
      } catch (error) {
        outcome = outcomeOf(error);
        throw error;
      } finally {
        // A consumer that stops reading early ends the stream here as CANCELLED.
        record('stream', started, outcome, done);
      }
    },
  };
}
