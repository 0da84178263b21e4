import { randomUUID } from 'node:crypto';
import { Logger } from '@nestjs/common';
import {
  KeelError,
  type AgentRunDto,
  type AgentRunSummaryDto,
  type CreateAgentRunDto,
} from '@keel/contracts';
import type { ChatClient, ChatTool } from '@keel/inference';
import type { RequestContext } from '@keel/platform';
import { getTokenizer } from '@keel/text';
import { RunInterrupted, runAgentLoop } from '../loop/agent-loop.js';
import {
  ABANDONED,
  answerTruncated,
  isFinished,
  type AgentRun,
  type AgentRunStore,
  type RunEnd,
  type RunListQuery,
  type RunPage,
  type RunSpec,
  type RunSummary,
} from '../runs/types.js';
import type { ToolDescriptor, ToolDispatch } from '../tool-types.js';
import type { AgentQueue } from './agent-queue.js';

export const AGENT_DEFAULTS = {
  maxSteps: 8,
  deadlineMs: 120_000,
  tokenBudget: 32_000,
  maxObservationTokens: 2_000,
};

/** What the service needs of the tool registry. */
export interface ToolCatalog {
  list(): ToolDescriptor[];
  get(name: string): ToolDescriptor | undefined;
}

/** Cancels a run wherever it executes (pub/sub across replicas in distributed mode). */
export interface CancelBus {
  publish(runId: string): Promise<void>;
  subscribe(onCancel: (runId: string) => void): Promise<void>;
  close(): Promise<void>;
}

/**
 * Agent runs: create (synchronously, or as an `agent` job), read, cancel; and the executor that
 * runs the loop for a run id, wherever it was created. A run executes on this process's event
 * loop (it is IO: model and tool calls); its steps are written as they end.
 */
export class AgentRunsService {
  private readonly logger = new Logger('Agent');
  /** Runs executing in this process, by id. */
  private readonly active = new Map<string, AbortController>();
  /** Their executions, which close() waits for: an interrupted synchronous run still writes its end. */
  private readonly executing = new Set<Promise<unknown>>();

  constructor(
    private readonly deps: {
      store: AgentRunStore;
      queue: AgentQueue;
      cancels: CancelBus;
      chat: ChatClient | undefined;
      tools: ToolCatalog;
      dispatch: ToolDispatch;
      /** Embedded: this process is the only executor, so it resumes what the last one left. */
      resumeOnStart: boolean;
      /** A synchronous run's lease (renewed every third of it while it runs here). */
      runLeaseMs: number;
      /** Refreshes the tool list (registrations made on another replica). */
      beforeCreate?: () => Promise<void>;
      /** Throws COLLECTION_NOT_FOUND for a collection the run names that does not exist. */
      requireCollection?: (name: string, ctx: RequestContext) => Promise<unknown>;
    },
  ) {}

  async start(): Promise<void> {
    await this.deps.cancels.subscribe((id) => this.active.get(id)?.abort(cancelled()));
    await this.deps.queue.start((id, stop) => this.execute(id, stop));
    if (!this.deps.resumeOnStart) return;
    for (const id of await this.deps.store.unfinished()) {
      const run = await this.deps.store.get(id);
      if (!run) continue;
      if (run.spec.async) {
        this.logger.log(`resuming agent run ${id} after ${run.steps.length} steps`);
        await this.deps.queue.enqueue(id);
      } else {
        // The only process that could run it is this one, started after it: no need to wait for
        // its lease to lapse. Its client went away with the process that served it.
        await this.deps.store.finish(id, ABANDONED);
      }
    }
  }

  async close(): Promise<void> {
    for (const controller of this.active.values()) controller.abort(new RunInterrupted());
    await this.deps.queue.close();
    await Promise.allSettled([...this.executing]);
    await this.deps.cancels.close();
  }

  async create(dto: CreateAgentRunDto, ctx: RequestContext): Promise<AgentRun> {
    if (!this.deps.chat) {
      throw new KeelError('UNAVAILABLE', 'agent runs need an LLM: set LLM_URL and LLM_MODEL');
    }
    await this.deps.beforeCreate?.();
    if (dto.collection) await this.deps.requireCollection?.(dto.collection, ctx);
    const tools = dto.tools ?? this.deps.tools.list().map((t) => t.name);
    const unknown = tools.filter((name) => !this.deps.tools.get(name));
    if (unknown.length > 0) {
      throw new KeelError(
        'TOOL_NOT_FOUND',
        `no tool named ${unknown.map((n) => `'${n}'`).join(', ')}`,
      );
    }
    const spec: RunSpec = {
      input: dto.input,
      ...(dto.instructions ? { instructions: dto.instructions } : {}),
      ...(dto.collection ? { collection: dto.collection } : {}),
      tools,
      maxSteps: dto.maxSteps ?? AGENT_DEFAULTS.maxSteps,
      deadlineMs: dto.deadlineMs ?? AGENT_DEFAULTS.deadlineMs,
      tokenBudget: dto.tokenBudget ?? AGENT_DEFAULTS.tokenBudget,
      maxObservationTokens: AGENT_DEFAULTS.maxObservationTokens,
      async: dto.async === true,
    };
    const run: AgentRun = {
      id: randomUUID(),
      status: 'queued',
      spec,
      steps: [],
      usage: { promptTokens: 0, completionTokens: 0 },
      requestId: ctx.requestId,
      createdAt: new Date().toISOString(),
      attempts: 0,
    };
    await this.deps.store.create(run, spec.async ? undefined : { ms: this.deps.runLeaseMs });
    if (spec.async) {
      await this.deps.queue.enqueue(run.id);
      return (await this.deps.store.get(run.id)) ?? run;
    }
    // Synchronous: executes here and ends with the request (its deadline, the client leaving).
    await this.execute(run.id, ctx.signal, ctx.deadline);
    return this.require(run.id);
  }

  /** Runs newest first, a page at a time (GET /v1/agent/runs). */
  list(query: RunListQuery): Promise<RunPage> {
    return this.deps.store.list(query);
  }

  async require(id: string): Promise<AgentRun> {
    const run = await this.deps.store.get(id);
    if (!run) throw new KeelError('AGENT_RUN_NOT_FOUND', `no agent run '${id}'`);
    return run;
  }

  /** Asks the run to stop, wherever it runs; the run ends `cancelled` and its calls are aborted. */
  async cancel(id: string): Promise<AgentRun> {
    const run = await this.require(id);
    if (isFinished(run.status)) {
      throw new KeelError('AGENT_RUN_FINISHED', `agent run '${id}' already ended (${run.status})`);
    }
    await this.deps.store.requestCancel(id);
    const local = this.active.get(id);
    if (local) local.abort(cancelled());
    else await this.deps.cancels.publish(id);
    if (run.status === 'queued' && !local) {
      // Not started anywhere yet: it ends now, and an executor that picks it up finds it ended.
      await this.deps.store.finish(id, {
        status: 'cancelled',
        endReason: 'cancelled',
        error: { code: 'CANCELLED', message: 'cancelled before it started' },
      });
    }
    return this.require(id);
  }

  /**
   * Runs the loop for one run until it ends, or until `stop` fires for a shutdown (then an async
   * run stays unfinished, to be taken over, and a synchronous one ends ABANDONED).
   */
  execute(
    id: string,
    stop: AbortSignal,
    requestDeadline?: number,
  ): Promise<'ended' | 'interrupted'> {
    const execution = this.executeRun(id, stop, requestDeadline);
    this.executing.add(execution);
    const forget = () => this.executing.delete(execution);
    void execution.then(forget, forget);
    return execution;
  }

  private async executeRun(
    id: string,
    stop: AbortSignal,
    requestDeadline?: number,
  ): Promise<'ended' | 'interrupted'> {
    const run = await this.deps.store.start(id);
    if (!run) return 'ended';
    const controller = new AbortController();
    // An async run's `stop` is this process stopping: the run stays unfinished for a takeover. A
    // synchronous run's is its request's: the client left, or the request's deadline passed.
    const onStop = () =>
      controller.abort(
        requestDeadline === undefined
          ? new RunInterrupted()
          : Date.now() >= requestDeadline
            ? deadlinePassed()
            : stopReason(stop),
      );
    stop.addEventListener('abort', onStop, { once: true });
    if (stop.aborted) onStop();
    if (run.cancelRequested) controller.abort(cancelled());

    const started = Date.parse(run.startedAt ?? run.createdAt);
    const deadline = Math.min(started + run.spec.deadlineMs, requestDeadline ?? Infinity);
    const timer = setTimeout(
      () => controller.abort(deadlinePassed()),
      Math.max(0, deadline - Date.now()),
    );
    this.active.set(id, controller);
    const lease = run.spec.async ? undefined : this.holdLease(id, controller);
    try {
      const end: RunEnd = await runAgentLoop(
        run,
        {
          chat: this.deps.chat!,
          dispatch: this.deps.dispatch,
          tools: this.offered(run.spec.tools),
          store: this.deps.store,
          tokenizer: getTokenizer('o200k_base'),
        },
        {
          signal: controller.signal,
          deadline,
          ...(run.requestId ? { requestId: run.requestId } : {}),
        },
      );
      if (controller.signal.reason instanceof RunInterrupted) {
        // Nothing takes a synchronous run over: it ends with its process rather than at its lease.
        if (!run.spec.async) await this.deps.store.finish(id, ABANDONED);
        return 'interrupted';
      }
      await this.deps.store.finish(id, end);
      this.logger.log(`agent run ${id} ${end.status} (${end.endReason})`);
      return 'ended';
    } finally {
      clearTimeout(timer);
      clearInterval(lease);
      this.active.delete(id);
      stop.removeEventListener('abort', onStop);
    }
  }

  /**
   * Renews a synchronous run's lease while it runs here. A renewal that finds the run ended (a
   * reader judged it abandoned while this process was stalled) stops it: its end is written.
   */
  private holdLease(id: string, controller: AbortController): NodeJS.Timeout {
    const every = Math.max(100, Math.floor(this.deps.runLeaseMs / 3));
    const timer = setInterval(() => {
      this.deps.store.renewLease(id, this.deps.runLeaseMs).then(
        (open) => {
          if (!open) controller.abort(new KeelError('AGENT_RUN_ABANDONED', 'the run was ended'));
        },
        (error: unknown) => {
          // Redis away for a moment: the next renewal may make it; the lease outlasts two misses.
          this.logger.warn(`agent run ${id}: lease not renewed: ${(error as Error).message}`);
        },
      );
    }, every);
    timer.unref();
    return timer;
  }

  private offered(names: readonly string[]): ChatTool[] {
    return names
      .map((name) => this.deps.tools.get(name))
      .filter((t): t is ToolDescriptor => t !== undefined)
      .map((t) => ({ name: t.name, description: t.description, parameters: t.parameters }));
  }
}

function cancelled(): KeelError {
  return new KeelError('CANCELLED', 'the run was cancelled');
}

function deadlinePassed(): KeelError {
  return new KeelError('DEADLINE_EXCEEDED', 'the run passed its deadline');
}

function stopReason(signal: AbortSignal): KeelError {
  const reason: unknown = signal.reason;
  if (reason instanceof KeelError) return reason;
  return new KeelError('CANCELLED', 'the client went away before the run answered');
}

/** The API's view of a run in a list: no steps, no answer, no request id. */
export function toRunSummaryDto(run: RunSummary): AgentRunSummaryDto {
  const { requestId: _requestId, cancelRequested: _cancel, spec, ...rest } = run;
  return { ...rest, spec: { ...spec } };
}

/** The API's view of a run (the request id stays in the logs). */
export function toRunDto(run: AgentRun): AgentRunDto {
  const { requestId: _requestId, cancelRequested: _cancel, spec, steps, ...rest } = run;
  return {
    ...rest,
    ...(run.status === 'completed' ? { truncated: answerTruncated(steps) } : {}),
    spec: { ...spec },
    steps: steps.map((s) => ({ ...s })),
  };
}
