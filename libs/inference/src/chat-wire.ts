// Keel's chat shapes ↔ the OpenAI chat-completions wire format (camelCase ↔ snake_case, tool
// calls wrapped as `{ type: 'function', function }`). Pure: no IO, so the mapping is tested
// without a server and the client only moves bytes.
import type {
  ChatFinishReason,
  ChatMessage,
  ChatRequest,
  ChatToolCall,
  ChatUsage,
} from './chat-types.js';

export interface WireToolCall {
  id: string;
  type: 'function';
  function: { name: string; arguments: string };
}

export interface WireMessage {
  role: ChatMessage['role'];
  content: string | null;
  tool_calls?: WireToolCall[];
  tool_call_id?: string;
}

export interface WireRequest {
  model: string;
  messages: WireMessage[];
  tools?: Array<{
    type: 'function';
    function: { name: string; description: string; parameters: Record<string, unknown> };
  }>;
  tool_choice?: 'auto' | 'none' | 'required';
  max_tokens?: number;
  temperature?: number;
  stream?: boolean;
  stream_options?: { include_usage: boolean };
}

/** An answer the client cannot use; the client turns it into LLM_INVALID. */
export class ChatShapeError extends Error {
  override readonly name = 'ChatShapeError';
}

export function toWireRequest(model: string, request: ChatRequest, stream: boolean): WireRequest {
  const tools = request.tools ?? [];
  return {
    model,
    messages: request.messages.map(toWireMessage),
    ...(tools.length > 0
      ? {
          tools: tools.map((t) => ({
            type: 'function' as const,
            function: { name: t.name, description: t.description, parameters: t.parameters },
          })),
          tool_choice: request.toolChoice ?? 'auto',
        }
      : // Without tools only 'none' means anything, and some servers refuse a choice of nothing.
        request.toolChoice === 'none'
        ? { tool_choice: 'none' as const }
        : {}),
    ...(request.maxTokens !== undefined ? { max_tokens: request.maxTokens } : {}),
    ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
    // Without include_usage a stream carries no token counts at all.
    ...(stream ? { stream: true, stream_options: { include_usage: true } } : {}),
  };
}

function toWireMessage(message: ChatMessage): WireMessage {
  return {
    role: message.role,
    content: message.content,
    ...(message.toolCalls && message.toolCalls.length > 0
      ? {
          tool_calls: message.toolCalls.map((c) => ({
            id: c.id,
            type: 'function' as const,
            function: { name: c.name, arguments: c.arguments },
          })),
        }
      : {}),
    ...(message.toolCallId !== undefined ? { tool_call_id: message.toolCallId } : {}),
  };
}

/** What a completion says, before Keel adds the attempts and, when missing, estimated usage. */
export interface ParsedCompletion {
  model: string;
  content: string | null;
  toolCalls: ChatToolCall[];
  finishReason: ChatFinishReason;
  usage?: ChatUsage;
}

/** Reads a non-streamed `chat.completion`; throws ChatShapeError on anything unusable. */
export function parseCompletion(json: unknown, fallbackModel: string): ParsedCompletion {
  const body = record(json, 'the answer');
  const choice = firstChoice(body);
  const message = record(choice.message, 'choices[0].message');
  const content = message.content;
  if (content !== null && content !== undefined && typeof content !== 'string') {
    throw new ChatShapeError('choices[0].message.content is not text');
  }
  const toolCalls = parseToolCalls(message.tool_calls);
  return {
    model: typeof body.model === 'string' && body.model ? body.model : fallbackModel,
    content: content ?? null,
    toolCalls,
    finishReason: finishReason(choice.finish_reason, toolCalls.length),
    ...usageOf(body.usage),
  };
}

function firstChoice(body: Record<string, unknown>): Record<string, unknown> {
  if (!Array.isArray(body.choices) || body.choices.length === 0) {
    // A server error that still came with 200 (some proxies do this) says why.
    throw new ChatShapeError(`the answer has no choices${serverReason(body.error)}`);
  }
  return record(body.choices[0], 'choices[0]');
}

/** `: <message>` of an OpenAI-style `error` object, or '' when there is none. */
function serverReason(error: unknown): string {
  if (!error || typeof error !== 'object') return '';
  const message = (error as Record<string, unknown>).message;
  return typeof message === 'string' ? `: ${message}` : '';
}

function parseToolCalls(value: unknown): ChatToolCall[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw new ChatShapeError('tool_calls is not a list');
  return value.map((raw, i) => {
    const call = record(raw, `tool_calls[${i}]`);
    const fn = record(call.function, `tool_calls[${i}].function`);
    if (typeof fn.name !== 'string' || fn.name === '') {
      throw new ChatShapeError(`tool_calls[${i}] has no function name`);
    }
    return {
      id: typeof call.id === 'string' && call.id ? call.id : `call_${i}`,
      name: fn.name,
      arguments: argumentsText(fn.arguments),
    };
  });
}

/**
 * The arguments as the model's raw text. Some servers (older Ollama) send an object instead of
 * a JSON string; re-encoding it keeps the contract that `arguments` is text to be parsed.
 */
function argumentsText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (value === undefined || value === null) return '';
  return JSON.stringify(value);
}

const FINISH_REASONS: Record<string, ChatFinishReason> = {
  stop: 'stop',
  length: 'length',
  tool_calls: 'tool_calls',
  // The pre-tools name of the same thing, still sent by some servers.
  function_call: 'tool_calls',
  content_filter: 'content_filter',
};

function finishReason(value: unknown, toolCalls: number): ChatFinishReason {
  if (typeof value === 'string' && value in FINISH_REASONS) return FINISH_REASONS[value];
  // No reason given: the shape of the answer says it.
  if (value === undefined || value === null) return toolCalls > 0 ? 'tool_calls' : 'stop';
  return 'other';
}

function usageOf(value: unknown): { usage?: ChatUsage } {
  if (!value || typeof value !== 'object') return {};
  const { prompt_tokens: prompt, completion_tokens: completion } = value as Record<string, unknown>;
  if (!isCount(prompt) || !isCount(completion)) return {};
  return { usage: { promptTokens: prompt, completionTokens: completion } };
}

function isCount(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0;
}

function record(value: unknown, what: string): Record<string, unknown> {
  if (!value || typeof value !== 'object' || Array.isArray(value)) {
    throw new ChatShapeError(`${what} is not an object`);
  }
  return value as Record<string, unknown>;
}

/**
 * Assembles a streamed completion from its `chat.completion.chunk`s: text deltas as they come,
 * tool calls by `index` (the id and name arrive first, the arguments in pieces after), the finish
 * reason, and the usage of the last chunk (`stream_options.include_usage`).
 */
export class StreamAssembler {
  #model: string;
  #content = '';
  #sawContent = false;
  readonly #calls = new Map<number, { id: string; name: string; arguments: string }>();
  #finish: unknown;
  #usage: ChatUsage | undefined;
  #done = false;

  constructor(fallbackModel: string) {
    this.#model = fallbackModel;
  }

  /** True once `[DONE]` came. */
  get done(): boolean {
    return this.#done;
  }

  /** True once a choice said why it finished (a stream that ends then without `[DONE]` is whole). */
  get finished(): boolean {
    return this.#finish !== undefined && this.#finish !== null;
  }

  /** Takes one SSE `data` payload; returns the text it adds ('' for none). */
  push(data: string): string {
    if (this.#done) return '';
    if (data.trim() === '[DONE]') {
      this.#done = true;
      return '';
    }
    let json: unknown;
    try {
      json = JSON.parse(data);
    } catch {
      throw new ChatShapeError('a stream event is not JSON');
    }
    const chunk = record(json, 'a stream event');
    if (chunk.error !== undefined) {
      throw new ChatShapeError(`the stream carried an error${serverReason(chunk.error)}`);
    }
    if (typeof chunk.model === 'string' && chunk.model) this.#model = chunk.model;
    const usage = usageOf(chunk.usage).usage;
    if (usage) this.#usage = usage;
    if (!Array.isArray(chunk.choices) || chunk.choices.length === 0) return '';
    const choice = record(chunk.choices[0], 'a stream choice');
    if (choice.finish_reason !== undefined && choice.finish_reason !== null) {
      this.#finish = choice.finish_reason;
    }
    if (choice.delta === undefined || choice.delta === null) return '';
    const delta = record(choice.delta, 'a stream delta');
    if (Array.isArray(delta.tool_calls)) {
      for (const raw of delta.tool_calls) this.#toolCallDelta(raw);
    }
    if (typeof delta.content === 'string' && delta.content !== '') {
      this.#content += delta.content;
      this.#sawContent = true;
      return delta.content;
    }
    return '';
  }

  #toolCallDelta(raw: unknown): void {
    const part = record(raw, 'a tool-call delta');
    const index = typeof part.index === 'number' ? part.index : this.#calls.size;
    let call = this.#calls.get(index);
    if (!call) {
      call = { id: '', name: '', arguments: '' };
      this.#calls.set(index, call);
    }
    if (typeof part.id === 'string' && part.id) call.id = part.id;
    const fn = part.function as Record<string, unknown> | undefined;
    if (fn && typeof fn === 'object') {
      // Names arrive whole in one chunk on OpenAI and vLLM; appending also covers servers that
      // split them.
      if (typeof fn.name === 'string') call.name += fn.name;
      if (typeof fn.arguments === 'string') call.arguments += fn.arguments;
      else if (fn.arguments !== undefined && fn.arguments !== null) {
        call.arguments += JSON.stringify(fn.arguments);
      }
    }
  }

  /** The whole completion; throws ChatShapeError when a tool call never got its name. */
  result(): ParsedCompletion {
    const toolCalls = [...this.#calls.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, call]) => {
        if (call.name === '') throw new ChatShapeError(`streamed tool call ${index} has no name`);
        return { id: call.id || `call_${index}`, name: call.name, arguments: call.arguments };
      });
    return {
      model: this.#model,
      content: this.#sawContent ? this.#content : toolCalls.length > 0 ? null : '',
      toolCalls,
      finishReason: finishReason(this.#finish, toolCalls.length),
      ...(this.#usage ? { usage: this.#usage } : {}),
    };
  }
}
