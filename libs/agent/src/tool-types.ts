// The tool boundary of the agent module: what a tool is, what calling one returns, and how the
// dispatcher is asked to call several. Tools are built in (search_collection, fetch_document),
// HTTP tools registered by config or POST /v1/tools, or tools of MCP servers.

/** A JSON Schema object (draft 2020-12 subset that Ajv accepts). */
export type JsonSchema = Record<string, unknown>;

export type ToolSource = 'builtin' | 'http' | 'mcp';

/** What the registry lists (GET /v1/tools) and what the model is offered. */
export interface ToolDescriptor {
  /** `^[a-zA-Z0-9_-]{1,64}$` (the OpenAI function-name rule). MCP tools: `<server>__<tool>`. */
  name: string;
  description: string;
  source: ToolSource;
  parameters: JsonSchema;
  /** Checked on every result when present; a result that fails it is TOOL_RESULT_INVALID. */
  result?: JsonSchema;
  /** Safe to call twice with the same arguments: only these are retried. */
  idempotent: boolean;
  /** Bound of one attempt. */
  timeoutMs: number;
  /** Calls of this tool in flight at once, across all runs of this process (bulkhead). */
  maxConcurrency: number;
  /** Largest result accepted, as serialized JSON bytes. */
  maxResultBytes: number;
}

export interface ToolInvocation {
  /** Aborted when the call's timeout passes, the run is cancelled or the client disconnects. */
  signal: AbortSignal;
  /** epoch ms */
  deadline: number;
  requestId?: string;
}

export interface Tool extends ToolDescriptor {
  /** `args` has already been validated against `parameters`. */
  invoke(args: unknown, invocation: ToolInvocation): Promise<unknown>;
}

/** Why a call failed; fed back to the model as the tool's answer, never thrown at the run. */
export type ToolErrorCode =
  | 'TOOL_NOT_FOUND'
  | 'TOOL_ARGUMENTS_INVALID'
  /** The model hit its token limit while writing the call: not made (the agent loop says so). */
  | 'TOOL_CALL_TRUNCATED'
  | 'TOOL_TIMEOUT'
  | 'TOOL_FAILED'
  | 'TOOL_CIRCUIT_OPEN'
  | 'TOOL_OVERLOADED'
  | 'TOOL_RESULT_TOO_LARGE'
  | 'TOOL_RESULT_INVALID'
  | 'TOOL_HOST_FORBIDDEN'
  | 'CANCELLED'
  | 'DEADLINE_EXCEEDED';

export interface ToolCallRequest {
  /** The model's call id. */
  id: string;
  name: string;
  /** The model's raw argument text. */
  arguments: string;
  /**
   * The model hit its token limit while writing this call: it is not made, and its outcome is
   * TOOL_CALL_TRUNCATED (counted in the metrics like any other).
   */
  truncated?: boolean;
}

export type ToolCallOutcome = {
  id: string;
  name: string;
  durationMs: number;
  attempts: number;
} & (
  { ok: true; result: unknown } | { ok: false; error: { code: ToolErrorCode; message: string } }
);

export interface DispatchOptions {
  signal: AbortSignal;
  /** epoch ms: the run's deadline; each call ends by min(deadline, its own timeout). */
  deadline: number;
  requestId?: string;
}

/** Calls tools in parallel; resolves once every call has an outcome. Never rejects. */
export interface ToolDispatch {
  dispatch(calls: readonly ToolCallRequest[], options: DispatchOptions): Promise<ToolCallOutcome[]>;
}
