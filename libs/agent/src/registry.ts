import type { Ajv2020, ValidateFunction } from 'ajv/dist/2020.js';
import { KeelError, type ErrorDetail } from '@keel/contracts/jobs';
import { compileSchema, createToolAjv } from './schema.js';
import type { Tool, ToolDescriptor } from './tool-types.js';

/** The OpenAI function-name rule; MCP tools fit it as `<server>__<tool>`. */
export const TOOL_NAME = /^[a-zA-Z0-9_-]{1,64}$/;

/** A registered tool with its schemas compiled once, at registration. */
export interface RegisteredTool {
  readonly tool: Tool;
  readonly validateArguments: ValidateFunction;
  readonly validateResult?: ValidateFunction;
}

/**
 * The tools of this process, by name. Registration is where a tool is judged: a bad name, a bad
 * schema or a bad bound fails here with TOOL_INVALID (details name the field), so a call never
 * meets a schema that cannot compile.
 */
export class ToolRegistry {
  private ajvInstance: Ajv2020 | undefined;
  private readonly tools = new Map<string, RegisteredTool>();
  /** Built-in tools, whose schemas are Keel's own: compiled on first call, not at boot. */
  private readonly deferred = new Map<string, Tool>();

  private get ajv(): Ajv2020 {
    this.ajvInstance ??= createToolAjv();
    return this.ajvInstance;
  }

  /**
   * A tool whose schemas Keel wrote and its tests compile: its validators are built on its first
   * call, so start-up does not pay Ajv's code generation for tools a deployment may never call.
   */
  registerBuiltin(tool: Tool): void {
    const problems = descriptorProblems(tool);
    if (problems.length > 0) {
      throw new KeelError('TOOL_INVALID', `tool ${String(tool.name)} is invalid`, problems);
    }
    if (this.has(tool.name)) {
      throw new KeelError('TOOL_EXISTS', `a tool named ${tool.name} is already registered`);
    }
    this.deferred.set(tool.name, tool);
  }

  /** Throws TOOL_INVALID for a malformed tool and TOOL_EXISTS for a taken name. */
  register(tool: Tool): void {
    const problems = descriptorProblems(tool);
    if (problems.length > 0) {
      throw new KeelError('TOOL_INVALID', `tool ${String(tool.name)} is invalid`, problems);
    }
    if (this.has(tool.name)) {
      throw new KeelError('TOOL_EXISTS', `a tool named ${tool.name} is already registered`);
    }
    this.compile(tool);
  }

  private compile(tool: Tool): RegisteredTool {
    const validateArguments = compileSchema(this.ajv, tool.parameters, 'parameters', tool.name);
    const validateResult =
      tool.result === undefined
        ? undefined
        : compileSchema(this.ajv, tool.result, 'result', tool.name);
    const entry = { tool, validateArguments, validateResult };
    this.tools.set(tool.name, entry);
    this.deferred.delete(tool.name);
    return entry;
  }

  get(name: string): Tool | undefined {
    return this.tools.get(name)?.tool ?? this.deferred.get(name);
  }

  /** The tool and its compiled validators (what the dispatcher needs). */
  entry(name: string): RegisteredTool | undefined {
    const deferred = this.deferred.get(name);
    return deferred ? this.compile(deferred) : this.tools.get(name);
  }

  has(name: string): boolean {
    return this.tools.has(name) || this.deferred.has(name);
  }

  /** Descriptors only (no `invoke`, nothing secret), sorted by name: GET /v1/tools and the model. */
  list(): ToolDescriptor[] {
    return [...[...this.tools.values()].map((e) => e.tool), ...this.deferred.values()]
      .map((tool) => describeTool(tool))
      .sort((a, b) => a.name.localeCompare(b.name));
  }

  /** True when a tool was removed. Calls already running finish; new ones get TOOL_NOT_FOUND. */
  remove(name: string): boolean {
    return this.tools.delete(name) || this.deferred.delete(name);
  }
}

/** A tool's public face: exactly the descriptor fields, whatever else the object carries. */
export function describeTool(tool: ToolDescriptor): ToolDescriptor {
  return {
    name: tool.name,
    description: tool.description,
    source: tool.source,
    parameters: tool.parameters,
    ...(tool.result !== undefined ? { result: tool.result } : {}),
    idempotent: tool.idempotent,
    timeoutMs: tool.timeoutMs,
    maxConcurrency: tool.maxConcurrency,
    maxResultBytes: tool.maxResultBytes,
  };
}

function descriptorProblems(tool: Tool): ErrorDetail[] {
  const problems: ErrorDetail[] = [];
  const bad = (field: string, message: string) => problems.push({ field, message });
  if (typeof tool.name !== 'string' || !TOOL_NAME.test(tool.name)) {
    bad('name', 'must be 1-64 characters of [a-zA-Z0-9_-]');
  }
  if (typeof tool.description !== 'string' || tool.description.trim() === '') {
    bad('description', 'must be a non-empty string');
  }
  if (!['builtin', 'http', 'mcp'].includes(tool.source)) {
    bad('source', 'must be builtin, http or mcp');
  }
  if (!isObject(tool.parameters) || tool.parameters.type !== 'object') {
    // Function calling passes one JSON object of named arguments; nothing else can be called.
    bad('parameters', "must be a JSON Schema with type: 'object'");
  }
  if (tool.result !== undefined && !isObject(tool.result)) {
    bad('result', 'must be a JSON Schema object');
  }
  if (typeof tool.idempotent !== 'boolean') bad('idempotent', 'must be a boolean');
  positiveInt(tool.timeoutMs, 'timeoutMs', bad);
  positiveInt(tool.maxConcurrency, 'maxConcurrency', bad);
  positiveInt(tool.maxResultBytes, 'maxResultBytes', bad);
  if (typeof tool.invoke !== 'function') bad('invoke', 'must be a function');
  return problems;
}

function positiveInt(
  value: unknown,
  field: string,
  bad: (field: string, message: string) => void,
): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    bad(field, 'must be a positive integer');
  }
}

export function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
