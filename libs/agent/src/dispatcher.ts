import {
  BrokenCircuitError,
  BulkheadPolicy,
  BulkheadRejectedError,
  CircuitBreakerPolicy,
  ConsecutiveBreaker,
  IsolatedCircuitError,
  bulkhead,
  circuitBreaker,
  handleWhen,
} from 'cockatiel';
import type { Registry } from 'prom-client';
import { abortableSleep, raceAbort } from './abort.js';
import { toolMetrics, type ToolMetrics } from './metrics.js';
import type { RegisteredTool, ToolRegistry } from './registry.js';
import { describeAjvErrors } from './schema.js';
import { ToolError, toToolError } from './tool-error.js';
import type {
  DispatchOptions,
  Tool,
  ToolCallOutcome,
  ToolCallRequest,
  ToolDispatch,
} from './tool-types.js';

export interface ToolDispatcherOptions {
  /** Retries of an idempotent tool's transient failures (default 2: three attempts at most). */
  maxRetries?: number;
  /** Full-jitter exponential back-off: the first retry waits up to this (default 100 ms). */
  retryBaseDelayMs?: number;
  /** No retry waits longer (default 2000 ms). */
  retryMaxDelayMs?: number;
  /** Calls that may wait for a tool's bulkhead; past it, TOOL_OVERLOADED (default 4). */
  maxQueue?: number;
  /** Consecutive failures (TOOL_FAILED, TOOL_TIMEOUT) that open a tool's circuit (default 5). */
  breakerFailures?: number;
  /** How long an open circuit refuses calls before one trial call (default 30000 ms). */
  halfOpenAfterMs?: number;
  /** The process's Prometheus registry; without it, no metrics. */
  metrics?: Registry;
  /** For tests: the jitter source. */
  random?: () => number;
}

/** A tool's bulkhead and circuit: per tool object, so a re-registered tool starts afresh. */
interface Policies {
  bulkhead: BulkheadPolicy;
  breaker: CircuitBreakerPolicy;
}

/** A breaker counts what says the tool is unwell, not what the caller or Keel decided. */
function countsAgainstTool(error: unknown): boolean {
  return (
    error instanceof ToolError && (error.code === 'TOOL_FAILED' || error.code === 'TOOL_TIMEOUT')
  );
}

/**
 * Calls tools for the agent loop (ToolDispatch). Every call gets an outcome by its own deadline,
 * whatever the tool does: `dispatch` runs the calls in parallel and never rejects.
 *
 * One attempt is bounded by min(the tool's timeoutMs, the run's deadline); its signal aborts when
 * that passes or the run is cancelled, so the tool's socket closes. The attempt runs inside the
 * tool's circuit breaker and bulkhead (cockatiel). Retries, their back-off and the timeout are
 * hand-written: cockatiel 4's retry sleep and its timeout policy do not end a wait on the caller's
 * abort (see libs/inference/src/http.ts), and a retry must also know the run's deadline.
 */
export class ToolDispatcher implements ToolDispatch {
  private readonly policies = new WeakMap<Tool, Policies>();
  private readonly metrics?: ToolMetrics;
  private readonly maxRetries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxQueue: number;
  private readonly breakerFailures: number;
  private readonly halfOpenAfterMs: number;
  private readonly random: () => number;

  constructor(
    private readonly registry: ToolRegistry,
    options: ToolDispatcherOptions = {},
  ) {
    this.maxRetries = options.maxRetries ?? 2;
    this.baseDelayMs = options.retryBaseDelayMs ?? 100;
    this.maxDelayMs = options.retryMaxDelayMs ?? 2_000;
    this.maxQueue = options.maxQueue ?? 4;
    this.breakerFailures = options.breakerFailures ?? 5;
    this.halfOpenAfterMs = options.halfOpenAfterMs ?? 30_000;
    this.random = options.random ?? Math.random;
    this.metrics = options.metrics ? toolMetrics(options.metrics) : undefined;
  }

  dispatch(
    calls: readonly ToolCallRequest[],
    options: DispatchOptions,
  ): Promise<ToolCallOutcome[]> {
    return Promise.all(calls.map((call) => this.callOne(call, options)));
  }

  private async callOne(call: ToolCallRequest, options: DispatchOptions): Promise<ToolCallOutcome> {
    const started = performance.now();
    const progress = { attempts: 0 };
    const entry = this.registry.entry(call.name);
    let outcome: ToolCallOutcome;
    try {
      if (call.truncated) {
        throw new ToolError(
          'TOOL_CALL_TRUNCATED',
          'you reached your token limit while writing the arguments of this call, so it was not made; call it again, more briefly',
        );
      }
      if (!entry) {
        throw new ToolError(
          'TOOL_NOT_FOUND',
          `there is no tool named ${JSON.stringify(call.name)}`,
        );
      }
      const result = await this.run(entry, call, options, progress);
      outcome = { ...this.base(call, started, progress), ok: true, result };
    } catch (error) {
      const failure = toToolError(error, call.name);
      outcome = {
        ...this.base(call, started, progress),
        ok: false,
        error: { code: failure.code, message: failure.message },
      };
    }
    // A name the model made up is not a label value: it would grow the series without bound.
    this.metrics?.observe(
      entry ? call.name : '(unknown)',
      outcome.ok ? 'ok' : outcome.error.code,
      outcome.durationMs / 1000,
    );
    return outcome;
  }

  private base(call: ToolCallRequest, started: number, progress: { attempts: number }) {
    return {
      id: call.id,
      name: call.name,
      durationMs: Math.round(performance.now() - started),
      attempts: progress.attempts,
    };
  }

  private async run(
    entry: RegisteredTool,
    call: ToolCallRequest,
    options: DispatchOptions,
    progress: { attempts: number },
  ): Promise<unknown> {
    const { tool } = entry;
    if (options.signal.aborted) throw cancelled(tool.name);
    const args = parseArguments(entry, call.arguments);
    const policies = this.policiesFor(tool);
    for (let retry = 0; ; retry++) {
      progress.attempts++;
      try {
        const result = await this.attempt(tool, policies, args, options);
        return checkResult(entry, result);
      } catch (error) {
        const failure = toToolError(error, tool.name);
        if (!tool.idempotent || !failure.transient || retry >= this.maxRetries) throw failure;
        const cap = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** retry);
        const delay = Math.floor(this.random() * cap);
        // A retry that cannot finish before the deadline only turns a clear failure into a
        // DEADLINE_EXCEEDED later: report the failure now.
        if (Date.now() + delay >= options.deadline) throw failure;
        try {
          await abortableSleep(delay, options.signal);
        } catch {
          throw cancelled(tool.name);
        }
      }
    }
  }

  /** One attempt, bounded by min(timeoutMs, the deadline) and ended by the run's signal. */
  private async attempt(
    tool: Tool,
    policies: Policies,
    args: unknown,
    options: DispatchOptions,
  ): Promise<unknown> {
    const remaining = options.deadline - Date.now();
    if (remaining <= 0) throw deadlineExceeded(tool.name);
    // When the run's deadline comes first, running out of time is the run's, and no retry helps.
    const byDeadline = remaining <= tool.timeoutMs;
    const bound = Math.min(tool.timeoutMs, remaining);
    const controller = new AbortController();
    const onCancel = () => controller.abort(cancelled(tool.name));
    if (options.signal.aborted) onCancel();
    options.signal.addEventListener('abort', onCancel, { once: true });
    const timer = setTimeout(
      () =>
        controller.abort(
          byDeadline
            ? deadlineExceeded(tool.name)
            : new ToolError('TOOL_TIMEOUT', `${tool.name} did not answer within ${bound} ms`, true),
        ),
      bound,
    );
    const { signal } = controller;
    const invocation = { signal, deadline: Date.now() + bound, requestId: options.requestId };
    try {
      return await raceAbort(
        policies.breaker.execute(
          () =>
            policies.bulkhead.execute(
              () =>
                // Inside the bulkhead too, so a tool that ignores its signal frees its slot on time.
                raceAbort(
                  (async () => tool.invoke(args, invocation))().catch((error: unknown) => {
                    throw signal.aborted ? (signal.reason as Error) : toToolError(error, tool.name);
                  }),
                  signal,
                ),
              signal,
            ),
          signal,
        ),
        signal,
      );
    } catch (error) {
      if (signal.aborted) throw signal.reason as Error;
      if (error instanceof BrokenCircuitError || error instanceof IsolatedCircuitError) {
        throw new ToolError(
          'TOOL_CIRCUIT_OPEN',
          `${tool.name} failed repeatedly; calls are refused for a while`,
        );
      }
      if (error instanceof BulkheadRejectedError) {
        throw new ToolError(
          'TOOL_OVERLOADED',
          `${tool.name} has too many calls in flight (${tool.maxConcurrency}) and waiting`,
        );
      }
      throw error;
    } finally {
      clearTimeout(timer);
      options.signal.removeEventListener('abort', onCancel);
    }
  }

  private policiesFor(tool: Tool): Policies {
    let policies = this.policies.get(tool);
    if (!policies) {
      policies = {
        bulkhead: bulkhead(tool.maxConcurrency, this.maxQueue),
        breaker: circuitBreaker(handleWhen(countsAgainstTool), {
          halfOpenAfter: this.halfOpenAfterMs,
          breaker: new ConsecutiveBreaker(this.breakerFailures),
        }),
      };
      this.policies.set(tool, policies);
    }
    return policies;
  }
}

/**
 * The model's argument text, parsed and checked against the tool's schema. Blank text counts as
 * `{}`: models send it for tools without parameters.
 */
function parseArguments(entry: RegisteredTool, text: string): unknown {
  let args: unknown;
  if (text.trim() === '') {
    args = {};
  } else {
    try {
      args = JSON.parse(text);
    } catch (error) {
      const reason = error instanceof Error ? error.message : String(error);
      throw new ToolError('TOOL_ARGUMENTS_INVALID', `the arguments are not valid JSON: ${reason}`);
    }
  }
  if (!entry.validateArguments(args)) {
    const problems = describeAjvErrors(entry.validateArguments.errors);
    throw new ToolError(
      'TOOL_ARGUMENTS_INVALID',
      `the arguments do not match the parameters of ${entry.tool.name}: ${problems.join('; ')}`,
    );
  }
  return args;
}

/** The size cap (serialized JSON bytes) and the result schema. `undefined` becomes `null`. */
function checkResult(entry: RegisteredTool, raw: unknown): unknown {
  const { tool } = entry;
  const result = raw === undefined ? null : raw;
  let bytes: number;
  try {
    bytes = Buffer.byteLength(JSON.stringify(result));
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new ToolError(
      'TOOL_RESULT_INVALID',
      `${tool.name} returned a result that is not JSON: ${reason}`,
    );
  }
  if (bytes > tool.maxResultBytes) {
    throw new ToolError(
      'TOOL_RESULT_TOO_LARGE',
      `${tool.name} returned ${bytes} bytes, more than its limit of ${tool.maxResultBytes}`,
    );
  }
  if (entry.validateResult && !entry.validateResult(result)) {
    const problems = describeAjvErrors(entry.validateResult.errors);
    throw new ToolError(
      'TOOL_RESULT_INVALID',
      `${tool.name} returned a result that does not match its schema: ${problems.join('; ')}`,
    );
  }
  return result;
}

function cancelled(name: string): ToolError {
  return new ToolError('CANCELLED', `the call of ${name} was cancelled`);
}

function deadlineExceeded(name: string): ToolError {
  return new ToolError('DEADLINE_EXCEEDED', `the run's deadline passed before ${name} answered`);
}
