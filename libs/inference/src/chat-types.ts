// The chat-completions boundary (OpenAI-compatible: vLLM, KServe's OpenAI route, Ollama, OpenAI).
// Shapes here are Keel's; the client maps them to and from the wire protocol.

export type ChatRole = 'system' | 'user' | 'assistant' | 'tool';

/** A tool call the model asked for; `arguments` is the model's raw JSON text (may be invalid). */
export interface ChatToolCall {
  id: string;
  name: string;
  arguments: string;
}

export interface ChatMessage {
  role: ChatRole;
  /** null for an assistant message that only calls tools. */
  content: string | null;
  /** assistant messages: the tools it called. */
  toolCalls?: ChatToolCall[];
  /** tool messages: the call this answers. */
  toolCallId?: string;
}

/** A tool offered to the model: a function with a JSON Schema for its arguments. */
export interface ChatTool {
  name: string;
  description: string;
  parameters: Record<string, unknown>;
}

export interface ChatRequest {
  messages: ChatMessage[];
  tools?: ChatTool[];
  /** 'auto' when tools are given; 'none' forces a text answer. */
  toolChoice?: 'auto' | 'none' | 'required';
  maxTokens?: number;
  temperature?: number;
}

export interface ChatCallOptions {
  signal?: AbortSignal;
  /** epoch ms: no attempt or retry wait goes past it. */
  deadline?: number;
}

export interface ChatUsage {
  promptTokens: number;
  completionTokens: number;
}

export type ChatFinishReason = 'stop' | 'length' | 'tool_calls' | 'content_filter' | 'other';

export interface ChatCompletion {
  model: string;
  content: string | null;
  toolCalls: ChatToolCall[];
  finishReason: ChatFinishReason;
  /** From the server's `usage`; when it sends none, counted with Keel's tokenizer and flagged. */
  usage: ChatUsage & { estimated: boolean };
  /** Attempts the call took (1 = no retry). */
  attempts: number;
}

/** One event of a streamed completion: text as it comes, then the whole completion once. */
export type ChatStreamEvent =
  { type: 'delta'; text: string } | { type: 'done'; completion: ChatCompletion };

/** A client of one chat-completions server. Safe to share. */
export interface ChatClient {
  readonly model: string;
  complete(request: ChatRequest, options: ChatCallOptions): Promise<ChatCompletion>;
  /** Streams (SSE, `stream: true`); retries happen only before the first byte of the answer. */
  stream(request: ChatRequest, options: ChatCallOptions): AsyncIterable<ChatStreamEvent>;
}

export interface ChatClientConfig {
  /** Base URL; `/v1/chat/completions` is appended unless the URL already ends in it. */
  url: string;
  model: string;
  apiKey?: string;
  /** Bound of each attempt (time to the whole answer; for streams, to the first byte). */
  timeoutMs: number;
  /** Retries after the first attempt on 429, 503, connection errors and attempt timeouts. */
  maxRetries: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
}
