import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A TEST DOUBLE of an OpenAI-compatible chat-completions server (`POST /v1/chat/completions`),
 * never a model: the real LLM cannot run here. It answers from a script, one step per request, in
 * order, so a test says exactly what "the model" replies — text, tool calls (valid or broken
 * JSON), why it stopped (`finish_reason`), an HTTP error with `Retry-After`, a delay, a hang, a
 * stream cut midway — and then reads what the client sent (`requests`, in wire format) and
 * whether it hung up early (`closedEarly`).
 *
 * Plain node:http on 127.0.0.1 and a random port: real sockets, real status codes, real
 * connection closes, real SSE framing (`data: {chat.completion.chunk}` lines, then
 * `data: [DONE]`). When the script runs out, it answers 500 saying so, so a test that makes one
 * call too many fails loudly instead of hanging.
 */

/** The wire request of `POST /v1/chat/completions`, as OpenAI documents it (the fields Keel uses). */
export interface ChatCompletionsBody {
  model: string;
  messages: Array<{
    role: 'system' | 'user' | 'assistant' | 'tool';
    content: string | null;
    tool_calls?: Array<{
      id: string;
      type: 'function';
      function: { name: string; arguments: string };
    }>;
    tool_call_id?: string;
  }>;
  tools?: Array<{
    type: 'function';
    function: { name: string; description?: string; parameters?: Record<string, unknown> };
  }>;
  tool_choice?: 'auto' | 'none' | 'required' | { type: 'function'; function: { name: string } };
  max_tokens?: number;
  temperature?: number;
  stream?: boolean;
  stream_options?: { include_usage?: boolean };
}

export interface LlmScriptStep {
  /** Assistant text. */
  content?: string;
  /** arguments: an object is sent JSON.stringify'd, a string verbatim (lets tests send invalid JSON). */
  toolCalls?: Array<{ id?: string; name: string; arguments: unknown }>;
  /** Answer this HTTP status with an OpenAI-style error body instead. */
  status?: number;
  retryAfterSeconds?: number;
  /** Wait before answering (an answer the client stopped waiting for is not sent). */
  delayMs?: number;
  /** Never answer (until the client goes away). */
  hang?: boolean;
  /** null → omit usage; undefined → a rough count of the request and the answer. */
  usage?: { prompt_tokens: number; completion_tokens: number } | null;
  /** finish_reason; default `tool_calls` when there are tool calls, else `stop`. */
  finishReason?: string;
  /** Streaming: delay between chunks. */
  chunkDelayMs?: number;
  /** Streaming: destroy the socket after N chunks. */
  cutAfterChunks?: number;
}

export type LlmScript = Array<LlmScriptStep | ((request: ChatCompletionsBody) => LlmScriptStep)>;

export interface ScriptedLlm {
  /** Base URL, e.g. http://127.0.0.1:PORT/v1 */
  url: string;
  /** Every request body received, in order (wire format). */
  requests: ChatCompletionsBody[];
  /** Requests whose client closed the connection before the answer ended. */
  closedEarly: number;
  waitForClosedEarly(n: number, timeoutMs?: number): Promise<void>;
  /** Appends steps. */
  push(...steps: LlmScript): void;
  close(): Promise<void>;
}

const PATH = '/v1/chat/completions';

export async function startScriptedLlm(
  script: LlmScript = [],
  options: { model?: string } = {},
): Promise<ScriptedLlm> {
  const steps: LlmScript = [...script];
  const requests: ChatCompletionsBody[] = [];
  let served = 0;

  const state = {
    closedEarly: 0,
  };

  const server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendError(res, 500, `scripted LLM failed: ${String(error)}`);
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBody(req);
    // Counted from here: a client that goes away before the answer ends (a hang, a delay, a
    // stream read halfway) is what cancellation tests look for. A cut the script asked for is not.
    let cutByScript = false;
    res.once('close', () => {
      if (!res.writableFinished && !cutByScript) state.closedEarly++;
    });
    if (req.method !== 'POST' || req.url?.split('?')[0] !== PATH) {
      sendError(res, 404, `scripted LLM: no route ${req.method} ${req.url}`);
      return;
    }
    let body: ChatCompletionsBody;
    try {
      body = JSON.parse(raw) as ChatCompletionsBody;
    } catch {
      sendError(res, 400, 'scripted LLM: the request body is not JSON');
      return;
    }
    requests.push(body);
    const index = served++;
    const next = steps.shift();
    if (next === undefined) {
      sendError(
        res,
        500,
        `scripted LLM: the script ran out (request ${index + 1}, ${index} step(s) scripted)`,
      );
      return;
    }
    const step = typeof next === 'function' ? next(body) : next;
    const gone = closed(res);

    if (step.hang) {
      await gone;
      return;
    }
    if (step.delayMs !== undefined && step.delayMs > 0) {
      const finished = await Promise.race([
        wait(step.delayMs).then(() => false),
        gone.then(() => true),
      ]);
      if (finished) return;
    }
    if (step.status !== undefined && (step.status < 200 || step.status >= 300)) {
      if (step.retryAfterSeconds !== undefined) {
        res.setHeader('retry-after', String(step.retryAfterSeconds));
      }
      sendError(res, step.status, `scripted LLM: status ${step.status}`);
      return;
    }
    const model = options.model ?? body.model;
    const id = `chatcmpl-${index + 1}`;
    const toolCalls = (step.toolCalls ?? []).map((call, i) => ({
      id: call.id ?? `call_${index + 1}_${i + 1}`,
      type: 'function' as const,
      function: {
        name: call.name,
        arguments:
          typeof call.arguments === 'string' ? call.arguments : JSON.stringify(call.arguments),
      },
    }));
    const content = step.content ?? (toolCalls.length > 0 ? null : '');
    const finishReason = step.finishReason ?? (toolCalls.length > 0 ? 'tool_calls' : 'stop');
    const usage =
      step.usage === null
        ? undefined
        : (step.usage ?? {
            prompt_tokens: roughTokens(body.messages.map((m) => m.content ?? '').join(' ')),
            completion_tokens: roughTokens(
              (content ?? '') + toolCalls.map((c) => c.function.arguments).join(''),
            ),
          });
    const withTotal = usage && {
      ...usage,
      total_tokens: usage.prompt_tokens + usage.completion_tokens,
    };
    const created = Math.floor(Date.now() / 1000);

    if (body.stream !== true) {
      res.statusCode = 200;
      res.setHeader('content-type', 'application/json');
      res.end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created,
          model,
          choices: [
            {
              index: 0,
              message: {
                role: 'assistant',
                content,
                ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
              },
              finish_reason: finishReason,
            },
          ],
          ...(withTotal ? { usage: withTotal } : {}),
        }),
      );
      return;
    }

    const chunk = (delta: Record<string, unknown>, finish: string | null = null) => ({
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      choices: [{ index: 0, delta, finish_reason: finish }],
    });
    const events: unknown[] = [chunk({ role: 'assistant', content: '' })];
    for (const piece of splitText(content ?? '')) events.push(chunk({ content: piece }));
    toolCalls.forEach((call, i) => {
      events.push(
        chunk({
          tool_calls: [
            {
              index: i,
              id: call.id,
              type: 'function',
              function: { name: call.function.name, arguments: '' },
            },
          ],
        }),
      );
      for (const piece of splitPieces(call.function.arguments, 3)) {
        events.push(chunk({ tool_calls: [{ index: i, function: { arguments: piece } }] }));
      }
    });
    events.push(chunk({}, finishReason));
    if (withTotal && body.stream_options?.include_usage) {
      events.push({
        id,
        object: 'chat.completion.chunk',
        created,
        model,
        choices: [],
        usage: withTotal,
      });
    }
    events.push('[DONE]');

    res.statusCode = 200;
    res.setHeader('content-type', 'text/event-stream');
    res.setHeader('cache-control', 'no-cache');
    res.flushHeaders();
    let sent = 0;
    for (const event of events) {
      if (res.destroyed) return;
      if (step.cutAfterChunks !== undefined && sent >= step.cutAfterChunks) {
        cutByScript = true;
        res.destroy();
        return;
      }
      if (sent > 0 && step.chunkDelayMs) {
        if (
          await Promise.race([wait(step.chunkDelayMs).then(() => false), gone.then(() => true)])
        ) {
          return;
        }
      }
      const data = typeof event === 'string' ? event : JSON.stringify(event);
      await new Promise<void>((resolve) => res.write(`data: ${data}\n\n`, () => resolve()));
      sent++;
    }
    res.end();
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}/v1`,
    requests,
    get closedEarly() {
      return state.closedEarly;
    },
    async waitForClosedEarly(n, timeoutMs = 5_000) {
      const end = Date.now() + timeoutMs;
      while (state.closedEarly < n) {
        if (Date.now() > end) {
          throw new Error(
            `scripted LLM: ${state.closedEarly} early close(s) after ${timeoutMs} ms, wanted ${n}`,
          );
        }
        await wait(10);
      }
    },
    push(...more) {
      steps.push(...more);
    },
    close() {
      return new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

/** Resolves when the response closes, whoever closed it. */
function closed(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    if (res.destroyed) resolve();
    else res.once('close', () => resolve());
  });
}

function sendError(res: ServerResponse, status: number, message: string): void {
  res.statusCode = status;
  res.setHeader('content-type', 'application/json');
  res.end(
    JSON.stringify({
      error: {
        message,
        type: status === 429 ? 'rate_limit_exceeded' : 'scripted_error',
        code: status,
      },
    }),
  );
}

function wait(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Word by word (each piece with its leading space), so a stream has several content chunks. */
function splitText(text: string): string[] {
  if (text === '') return [];
  const words = text.match(/\s*\S+\s*$|\s*\S+/g) ?? [text];
  return words.length > 1 ? words : splitPieces(text, 2);
}

function splitPieces(text: string, n: number): string[] {
  if (text.length < n) return text === '' ? [] : [text];
  const size = Math.ceil(text.length / n);
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size));
  return pieces;
}

/** About four characters a token: the double needs plausible numbers, not exact ones. */
function roughTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4));
}
