import { AGENT_RUN_CURSOR_PATTERN, type SerializedError } from '@keel/contracts';
import type { ChatToolCall, ChatUsage } from '@keel/inference';
import type { ToolCallOutcome } from '../tool-types.js';

export const RUN_STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

export function isFinished(status: RunStatus): boolean {
  return status === 'completed' || status === 'failed' || status === 'cancelled';
}

/**
 * Why a run ended. `answer` is the only success; the others end it with what it had, so a
 * caller can tell a budget stop from a failure.
 */
export type EndReason =
  'answer' | 'max_steps' | 'deadline' | 'token_budget' | 'cancelled' | 'error';

/** What the caller asked for; fixed when the run is created. */
export interface RunSpec {
  input: string;
  /** Extra system instructions, placed after Keel's own. */
  instructions?: string;
  /** The collection `search_collection` and `fetch_document` default to. */
  collection?: string;
  /** Tools offered to the model; all registered tools when absent. */
  tools: string[];
  maxSteps: number;
  /** Milliseconds from the run's start. */
  deadlineMs: number;
  /** Prompt + completion tokens over every model call of the run. */
  tokenBudget: number;
  /** Tokens of one tool result that the model is shown; the rest is cut. */
  maxObservationTokens: number;
  /** Created as an `agent` job (resumed after a restart) rather than inside its request. */
  async: boolean;
}

/**
 * One step of the state machine, persisted as soon as it ends: the run can be read step by step,
 * and a run taken over after a restart continues from its last step instead of starting again.
 */
export type AgentStep =
  | {
      index: number;
      kind: 'plan';
      startedAt: string;
      finishedAt: string;
      content: string | null;
      toolCalls: ChatToolCall[];
      usage: ChatUsage;
      finishReason: string;
    }
  | {
      index: number;
      kind: 'call_tools';
      startedAt: string;
      finishedAt: string;
      outcomes: ToolCallOutcome[];
    }
  | {
      index: number;
      kind: 'observe';
      startedAt: string;
      finishedAt: string;
      /** What the model is shown of each result, after the token cut; one per call, in order. */
      observations: Array<{
        toolCallId: string;
        name: string;
        content: string;
        truncated: boolean;
      }>;
    }
  | {
      index: number;
      kind: 'answer';
      startedAt: string;
      finishedAt: string;
      answer: string;
      /** The model stopped at its token limit (finish reason `length`): the answer is cut off. */
      truncated?: boolean;
    };

/**
 * Whether a completed run's answer was cut off at the model's token limit: its last plan (the
 * one that answered) ended for `length`. Read from the steps rather than stored with the end, so
 * a run finished on a resume, or before this was recorded, says it too.
 */
export function answerTruncated(steps: readonly AgentStep[]): boolean {
  const plan = steps.findLast((s) => s.kind === 'plan');
  return plan !== undefined && plan.toolCalls.length === 0 && plan.finishReason === 'length';
}

export interface AgentRun {
  id: string;
  status: RunStatus;
  spec: RunSpec;
  steps: AgentStep[];
  answer?: string;
  endReason?: EndReason;
  error?: SerializedError;
  usage: ChatUsage;
  requestId?: string;
  createdAt: string;
  startedAt?: string;
  finishedAt?: string;
  /** Set when DELETE asked the run to stop; the executor stops at once or at its next step. */
  cancelRequested?: boolean;
  /** Times the run was (re)started: more than 1 means it was taken over after a restart. */
  attempts: number;
}

export interface RunEnd {
  status: 'completed' | 'failed' | 'cancelled';
  endReason: EndReason;
  answer?: string;
  error?: SerializedError;
}

/**
 * The end of a synchronous run whose process stopped before it ended: nothing continues it (only
 * async runs are jobs that another process takes over), and its client is gone with the process.
 */
export const ABANDONED: RunEnd = {
  status: 'failed',
  endReason: 'error',
  error: {
    code: 'AGENT_RUN_ABANDONED',
    message:
      'the process executing this synchronous run stopped before the run ended; submit it again',
  },
};

/** A run as a list shows it: everything but its steps (counted) and its answer. */
export type RunSummary = Omit<AgentRun, 'steps' | 'answer'> & { stepCount: number };

export interface RunListQuery {
  status?: RunStatus;
  limit: number;
  /** A page's `next`: the runs created before the last one it showed. */
  before?: string;
}

export interface RunPage {
  runs: RunSummary[];
  /** Present when there may be more: pass it as `before`. */
  next?: string;
}

/**
 * A list cursor: the run's creation time (ms, zero-padded so cursors sort as text) and its id.
 * The Redis store uses it as its index's member, so paging is an exact lexical range there too.
 */
export const RUN_CURSOR = AGENT_RUN_CURSOR_PATTERN;

export function runCursor(run: Pick<AgentRun, 'id' | 'createdAt'>): string {
  return `${String(Date.parse(run.createdAt)).padStart(15, '0')}:${run.id}`;
}

/**
 * Where runs live: SQLite in embedded mode, Redis in distributed mode. Every write is durable
 * when the promise resolves.
 */
export interface AgentRunStore {
  /**
   * A synchronous run is created with a lease of `lease.ms`, which the process executing it
   * renews (renewLease) for as long as it runs; an async run has none (it is a job, and the
   * queue's own lock hands it to another process).
   */
  create(run: AgentRun, lease?: { ms: number }): Promise<void>;
  /**
   * The run, or undefined. A run still queued or running whose lease has lapsed is ended ABANDONED
   * here, in one atomic step, so every reader on every replica reports the same end.
   */
  get(id: string): Promise<AgentRun | undefined>;
  /**
   * Extends the run's lease to `ms` from now. False once the run has ended (or was found
   * abandoned): its executor should stop.
   */
  renewLease(id: string, ms: number): Promise<boolean>;
  /** Marks the run running (attempts + 1) and returns it; undefined if it is finished or gone. */
  start(id: string): Promise<AgentRun | undefined>;
  appendStep(id: string, step: AgentStep, usage: ChatUsage): Promise<void>;
  finish(id: string, end: RunEnd): Promise<void>;
  requestCancel(id: string): Promise<void>;
  /** Runs queued or running: after a restart of the only process (embedded), they continue. */
  unfinished(): Promise<string[]>;
  /**
   * Runs newest first, one page. An open synchronous run whose lease lapsed shows ended, as `get`
   * would end it. A page may hold fewer than `limit` runs and still have a `next` (Redis filters
   * by status after reading a bounded number of runs).
   */
  list(query: RunListQuery): Promise<RunPage>;
  close(): Promise<void>;
}
