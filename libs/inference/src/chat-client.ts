import { createParser } from 'eventsource-parser';
import { KeelError } from '@keel/contracts/jobs';
import { getTokenizer } from '@keel/text';
import type {
  ChatCallOptions,
  ChatClient,
  ChatClientConfig,
  ChatCompletion,
  ChatMessage,
  ChatRequest,
  ChatStreamEvent,
  ChatUsage,
} from './chat-types.js';
import {
  ChatShapeError,
  parseCompletion,
  StreamAssembler,
  toWireRequest,
  type ParsedCompletion,
} from './chat-wire.js';
import {
  CHAT_ERRORS,
  connectionReason,
  deadlineError,
  describe,
  jsonBody,
  post,
  scrub,
  stoppedError,
  type AcceptBody,
  type PostJsonOptions,
} from './http.js';
import { DEFAULT_BACKOFF, type BackoffOptions } from './retry.js';

/** How long to wait for the end of a body after `[DONE]` before hanging up on it. */
const DRAIN_MS = 1_000;

/**
 * A client of one OpenAI-compatible chat-completions server (vLLM, KServe's OpenAI route,
 * Ollama, OpenAI). Nest-free and stateless per call, so one client serves the whole process; the
 * API's query path and the agent loop share it.
 */
export function createChatClient(config: ChatClientConfig): ChatClient {
  return new HttpChatClient(config);
}

type Opened =
  | { kind: 'stream'; reader: ReadableStreamDefaultReader<Uint8Array>; first: ReadResult }
  // A server that ignores `stream: true` and answers one JSON completion.
  | { kind: 'whole'; json: unknown };

type ReadResult = Awaited<ReturnType<ReadableStreamDefaultReader<Uint8Array>['read']>>;

class HttpChatClient implements ChatClient {
  readonly model: string;
  readonly #endpoint: URL;
  readonly #where: string;
  // Private fields: neither JSON.stringify nor util.inspect shows them, so logging the client
  // cannot leak the key.
  readonly #headers: Readonly<Record<string, string>>;
  readonly #secrets: readonly string[];
  readonly #timeoutMs: number;
  readonly #maxRetries: number;
  readonly #backoff: BackoffOptions;

  constructor(config: ChatClientConfig) {
    this.#endpoint = chatEndpoint(config.url);
    this.#where = describe(this.#endpoint);
    if (typeof config.model !== 'string' || config.model.trim() === '') {
      throw new RangeError('the chat client needs a model name');
    }
    if (!Number.isInteger(config.timeoutMs) || config.timeoutMs < 1) {
      throw new RangeError('timeoutMs must be an integer ≥ 1');
    }
    if (!Number.isInteger(config.maxRetries) || config.maxRetries < 0) {
      throw new RangeError('maxRetries must be a non-negative integer');
    }
    this.model = config.model;
    this.#headers = {
      'content-type': 'application/json',
      ...(config.apiKey ? { authorization: `Bearer ${config.apiKey}` } : {}),
    };
    this.#secrets = config.apiKey ? [config.apiKey] : [];
    this.#timeoutMs = config.timeoutMs;
    this.#maxRetries = config.maxRetries;
    this.#backoff = {
      baseDelayMs: config.retryBaseDelayMs ?? DEFAULT_BACKOFF.baseDelayMs,
      maxDelayMs: config.retryMaxDelayMs ?? DEFAULT_BACKOFF.maxDelayMs,
    };
  }

  async complete(request: ChatRequest, options: ChatCallOptions): Promise<ChatCompletion> {
    const { value, attempts } = await post(
      this.#post(request, options, false),
      jsonBody(CHAT_ERRORS),
    );
    return this.#finish(
      this.#parse(() => parseCompletion(value, this.model)),
      request,
      attempts,
    );
  }

  async *stream(request: ChatRequest, options: ChatCallOptions): AsyncIterable<ChatStreamEvent> {
    const { value: opened, attempts } = await post(this.#post(request, options, true), openStream);
    if (opened.kind === 'whole') {
      const completion = this.#finish(
        this.#parse(() => parseCompletion(opened.json, this.model)),
        request,
        attempts,
      );
      if (completion.content) yield { type: 'delta', text: completion.content };
      yield { type: 'done', completion };
      return;
    }

    const { reader } = opened;
    const assembler = new StreamAssembler(this.model);
    const texts: string[] = [];
    let broken: unknown;
    const parser = createParser({
      onEvent: (event) => {
        if (broken !== undefined) return;
        try {
          const text = assembler.push(event.data);
          if (text) texts.push(text);
        } catch (error) {
          broken = error;
        }
      },
    });
    const decoder = new TextDecoder();
    let bytes = 0;
    let whole = false;
    try {
      let chunk = opened.first;
      while (!chunk.done) {
        bytes += chunk.value.byteLength;
        parser.feed(decoder.decode(chunk.value, { stream: true }));
        if (broken !== undefined) throw this.#invalid(broken);
        while (texts.length > 0) yield { type: 'delta', text: texts.shift()! };
        if (assembler.done) break;
        chunk = await this.#read(reader, options, bytes);
      }
      if (assembler.done) {
        await drain(reader);
      } else {
        parser.feed(decoder.decode());
        parser.reset({ consume: true });
        if (broken !== undefined) throw this.#invalid(broken);
        while (texts.length > 0) yield { type: 'delta', text: texts.shift()! };
        // A body that ended cleanly after the finish reason lacks only the terminator; one that
        // ended before it lost part of the answer.
        if (!assembler.finished) {
          throw new KeelError(
            CHAT_ERRORS.invalid,
            `${this.#where} ended the stream before the answer was complete (${bytes} bytes)`,
          );
        }
      }
      whole = true;
      const completion = this.#finish(
        this.#parse(() => assembler.result()),
        request,
        attempts,
      );
      yield { type: 'done', completion };
    } finally {
      // The consumer stopped early, the stream broke, or it was cancelled: hang up, so the server
      // stops generating (a cancelled body read closes the connection).
      if (!whole) await reader.cancel().catch(() => undefined);
    }
  }

  #post(request: ChatRequest, options: ChatCallOptions, stream: boolean): PostJsonOptions {
    return {
      url: this.#endpoint,
      body: toWireRequest(this.model, request, stream),
      headers: { ...this.#headers, accept: stream ? 'text/event-stream' : 'application/json' },
      timeoutMs: this.#timeoutMs,
      maxRetries: this.#maxRetries,
      backoff: this.#backoff,
      deadline: options.deadline,
      signal: options.signal,
      secrets: this.#secrets,
      errors: CHAT_ERRORS,
    };
  }

  /** One read of a stream already answering: past the first byte, nothing is retried. */
  async #read(
    reader: ReadableStreamDefaultReader<Uint8Array>,
    options: ChatCallOptions,
    bytes: number,
  ): Promise<ReadResult> {
    try {
      return await reader.read();
    } catch (error) {
      if (options.signal?.aborted) throw stoppedError(options.signal, CHAT_ERRORS);
      if (options.deadline !== undefined && Date.now() >= options.deadline) {
        throw deadlineError(this.#where);
      }
      throw new KeelError(
        CHAT_ERRORS.unavailable,
        scrub(
          `the stream from ${this.#where} broke after ${bytes} bytes: ${connectionReason(error)}`,
          this.#secrets,
        ),
      );
    }
  }

  #parse(parse: () => ParsedCompletion): ParsedCompletion {
    try {
      return parse();
    } catch (error) {
      throw this.#invalid(error);
    }
  }

  #invalid(error: unknown): KeelError {
    if (error instanceof KeelError) return error;
    const reason = error instanceof ChatShapeError ? error.message : String(error);
    return new KeelError(
      CHAT_ERRORS.invalid,
      scrub(`${this.#where} answered an unusable completion: ${reason}`, this.#secrets),
    );
  }

  #finish(parsed: ParsedCompletion, request: ChatRequest, attempts: number): ChatCompletion {
    return {
      model: parsed.model,
      content: parsed.content,
      toolCalls: parsed.toolCalls,
      finishReason: parsed.finishReason,
      usage: parsed.usage
        ? { ...parsed.usage, estimated: false }
        : { ...estimateUsage(request.messages, parsed), estimated: true },
      attempts,
    };
  }
}

/**
 * The body's first bytes, read inside the attempt: until they come the call can still be
 * retried, and the attempt's timeout bounds the wait for them.
 */
const openStream: AcceptBody<Opened> = async (response, where) => {
  const type = response.headers.get('content-type') ?? '';
  if (type.includes('application/json')) {
    return { kind: 'whole', json: await jsonBody(CHAT_ERRORS)(response, where) };
  }
  if (!response.body) throw new KeelError(CHAT_ERRORS.invalid, `${where} answered no body`);
  const reader = response.body.getReader();
  return { kind: 'stream', reader, first: await reader.read() };
};

/** Reads what follows `[DONE]` (normally just the end) so the connection ends cleanly. */
async function drain(reader: ReadableStreamDefaultReader<Uint8Array>): Promise<void> {
  const timer = setTimeout(() => void reader.cancel().catch(() => undefined), DRAIN_MS);
  try {
    for (;;) if ((await reader.read()).done) return;
  } catch {
    // The answer is whole; how the connection ended does not change it.
  } finally {
    clearTimeout(timer);
  }
}

// OpenAI's accounting: a few tokens of framing per message, and three that prime the reply.
const TOKENS_PER_MESSAGE = 3;
const REPLY_PRIMING_TOKENS = 3;

/**
 * Usage for a server that reported none (some Ollama and proxy versions), counted with Keel's
 * tokenizer (o200k_base, the encoding of current OpenAI-compatible models): an estimate, since
 * the model's own tokenizer may differ, and flagged as one.
 */
function estimateUsage(messages: readonly ChatMessage[], parsed: ParsedCompletion): ChatUsage {
  const tokenizer = getTokenizer('o200k_base');
  const count = (text: string | null | undefined) => (text ? tokenizer.count(text) : 0);
  let prompt = REPLY_PRIMING_TOKENS;
  for (const m of messages) {
    prompt += TOKENS_PER_MESSAGE + count(m.content);
    for (const call of m.toolCalls ?? []) prompt += count(call.name) + count(call.arguments);
  }
  let completion = count(parsed.content);
  for (const call of parsed.toolCalls) completion += count(call.name) + count(call.arguments);
  return { promptTokens: prompt, completionTokens: completion };
}

/**
 * `{url}/v1/chat/completions`, unless the URL already names the route (`…/chat/completions`) or
 * the API version root (`…/v1`). The query is kept: Azure-style servers version the API there.
 */
export function chatEndpoint(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new RangeError('the LLM server URL is not a URL');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new RangeError('the LLM server URL must be http or https');
  }
  if (url.username || url.password) {
    // fetch refuses such URLs, and a message quoting one would leak it.
    throw new RangeError('the LLM server URL must not hold credentials: use the API key');
  }
  const path = url.pathname.replace(/\/+$/, '');
  if (path.endsWith('/chat/completions')) url.pathname = path;
  else if (path.endsWith('/v1')) url.pathname = `${path}/chat/completions`;
  else url.pathname = `${path}/v1/chat/completions`;
  url.hash = '';
  return url;
}
