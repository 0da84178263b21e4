import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { resolve } from 'node:path';
import { EnvSchema } from './env.schema.js';

/** The typed configuration every module receives (never `process.env`). */
export interface KeelConfig {
  http: {
    port: number;
    host: string;
    bodyLimitBytes: number;
    bodyDecodeBacklogBytes: number;
    requestTimeoutMs: number;
  };
  dataDir: string;
  /** Where named evaluation datasets live; unset: evaluations must upload their dataset. */
  datasetsDir?: string;
  logLevel: EnvSchema['LOG_LEVEL'];
  adminToken?: string;
  redisUrl?: string;
  /** Distributed mode (set when `redisUrl` is). */
  queues: {
    prefix: string;
    maxBacklog: number;
    attempts: number;
    backoffMs: number;
    lockMs: number;
    redisTimeoutMs: number;
  };
  worker: { concurrency?: number; port: number };
  opensearchUrl?: string;
  /** Set when OPENSEARCH_URL is: the OpenSearch backend (and then the default for collections). */
  opensearch?: { url: string; timeoutMs: number; replicas: number };
  /** The embedding server; the shape of `@keel/inference`'s EmbeddingClientConfig. */
  embeddings?: {
    url: string;
    protocol: EnvSchema['EMBEDDINGS_PROTOCOL'];
    model?: string;
    dimensions?: number;
    batchSize: number;
    maxConcurrency: number;
    timeoutMs: number;
    maxRetries: number;
    apiKey?: string;
    queryPrefix?: string;
    documentPrefix?: string;
  };
  rerank?: { url: string; protocol: EnvSchema['RERANK_PROTOCOL'] };
  /** The chat-completions server; the shape of `@keel/inference`'s ChatClientConfig. */
  llm?: { url: string; model: string; apiKey?: string; timeoutMs: number; maxRetries: number };
  pool: { threads?: number; maxQueue: number };
  ingest: { maxBacklog: number; timeoutMs: number };
  jobs: { retentionHours: number };
  evaluation: { timeoutMs: number };
  /**
   * Agent runs: how many async runs one API process executes at once (KEEL_AGENT_CONCURRENCY), and
   * a synchronous run's lease, renewed every third of it while it runs.
   */
  agent: { concurrency: number; runLeaseMs: number };
  /** Agent tools: where HTTP tools may go, the tools file, and the bounds of a call. */
  tools: {
    allowedHosts: string[];
    allowPrivateNetworks: boolean;
    /** KEEL_TOOLS_FILE, resolved. */
    file?: string;
    /** What a tool gets when it does not set its own (`@keel/agent`'s ToolDefaults). */
    defaults: { timeoutMs: number; maxConcurrency: number; maxResultBytes: number };
    /** `@keel/agent`'s DispatcherOptions. */
    dispatch: {
      maxRetries: number;
      maxQueue: number;
      breakerFailures: number;
      halfOpenAfterMs: number;
    };
  };
  shutdownGraceMs: number;
  /** DIAGNOSTIC ONLY: queues whose jobs run on the API event loop (see the env schema). */
  diagnosticInlineQueues: Array<'ingest' | 'search' | 'rerank' | 'pack' | 'eval'>;
  /** DIAGNOSTIC ONLY: ingest, rerank and pack bodies are decoded on the API event loop. */
  diagnosticBodyOnLoop: boolean;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function flatten(errors: ValidationError[]): string[] {
  return errors.flatMap((e) => Object.values(e.constraints ?? {}).map((m) => `${m}`));
}

/** Validates the environment once; throws a ConfigError listing every problem. */
export function loadConfig(env: Record<string, string | undefined>): KeelConfig {
  const known = Object.keys(new EnvSchema());
  const relevant = Object.fromEntries(
    Object.entries(env).filter(([k, v]) => v !== undefined && known.includes(k)),
  );
  const parsed = plainToInstance(EnvSchema, relevant, { exposeDefaultValues: true });
  const problems = flatten(validateSync(parsed, { forbidUnknownValues: true }));
  if (problems.length > 0) {
    throw new ConfigError(`invalid configuration:\n  - ${problems.join('\n  - ')}`);
  }
  return {
    http: {
      port: parsed.PORT,
      host: parsed.HOST,
      bodyLimitBytes: parsed.KEEL_BODY_LIMIT_BYTES,
      bodyDecodeBacklogBytes: parsed.KEEL_BODY_DECODE_BACKLOG_BYTES,
      requestTimeoutMs: parsed.KEEL_REQUEST_TIMEOUT_MS,
    },
    dataDir: resolve(parsed.KEEL_DATA_DIR),
    datasetsDir: parsed.KEEL_DATASETS_DIR ? resolve(parsed.KEEL_DATASETS_DIR) : undefined,
    logLevel: parsed.LOG_LEVEL,
    adminToken: parsed.KEEL_ADMIN_TOKEN,
    redisUrl: parsed.REDIS_URL,
    queues: {
      prefix: parsed.KEEL_QUEUE_PREFIX,
      maxBacklog: parsed.KEEL_QUEUE_MAX_BACKLOG,
      attempts: parsed.KEEL_JOB_ATTEMPTS,
      backoffMs: parsed.KEEL_JOB_BACKOFF_MS,
      lockMs: parsed.KEEL_JOB_LOCK_MS,
      redisTimeoutMs: parsed.KEEL_REDIS_TIMEOUT_MS,
    },
    worker: { concurrency: parsed.KEEL_WORKER_CONCURRENCY, port: parsed.KEEL_WORKER_PORT },
    opensearchUrl: parsed.OPENSEARCH_URL,
    opensearch: parsed.OPENSEARCH_URL
      ? {
          url: parsed.OPENSEARCH_URL,
          timeoutMs: parsed.OPENSEARCH_TIMEOUT_MS,
          replicas: parsed.OPENSEARCH_REPLICAS,
        }
      : undefined,
    embeddings: parsed.EMBEDDINGS_URL
      ? {
          url: parsed.EMBEDDINGS_URL,
          protocol: parsed.EMBEDDINGS_PROTOCOL,
          model: parsed.EMBEDDINGS_MODEL,
          dimensions: parsed.EMBEDDINGS_DIMENSIONS,
          batchSize: parsed.EMBEDDINGS_BATCH_SIZE,
          maxConcurrency: parsed.EMBEDDINGS_CONCURRENCY,
          timeoutMs: parsed.EMBEDDINGS_TIMEOUT_MS,
          maxRetries: parsed.EMBEDDINGS_MAX_RETRIES,
          apiKey: parsed.EMBEDDINGS_API_KEY,
          queryPrefix: parsed.EMBEDDINGS_QUERY_PREFIX,
          documentPrefix: parsed.EMBEDDINGS_DOCUMENT_PREFIX,
        }
      : undefined,
    rerank: parsed.RERANK_URL
      ? { url: parsed.RERANK_URL, protocol: parsed.RERANK_PROTOCOL }
      : undefined,
    llm: parsed.LLM_URL
      ? {
          url: parsed.LLM_URL,
          // Validated: LLM_MODEL is required with LLM_URL.
          model: parsed.LLM_MODEL!,
          apiKey: parsed.LLM_API_KEY,
          timeoutMs: parsed.LLM_TIMEOUT_MS,
          maxRetries: parsed.LLM_MAX_RETRIES,
        }
      : undefined,
    pool: { threads: parsed.KEEL_POOL_THREADS, maxQueue: parsed.KEEL_POOL_MAX_QUEUE },
    ingest: {
      maxBacklog: parsed.KEEL_INGEST_MAX_BACKLOG,
      timeoutMs: parsed.KEEL_INGEST_TIMEOUT_MS,
    },
    jobs: { retentionHours: parsed.KEEL_JOB_RETENTION_HOURS },
    evaluation: { timeoutMs: parsed.KEEL_EVAL_TIMEOUT_MS },
    agent: {
      concurrency: parsed.KEEL_AGENT_CONCURRENCY,
      runLeaseMs: parsed.KEEL_AGENT_RUN_LEASE_MS,
    },
    tools: {
      allowedHosts: parsed.KEEL_TOOL_ALLOWED_HOSTS,
      allowPrivateNetworks: parsed.KEEL_TOOL_ALLOW_PRIVATE_NETWORKS,
      file: parsed.KEEL_TOOLS_FILE ? resolve(parsed.KEEL_TOOLS_FILE) : undefined,
      defaults: {
        timeoutMs: parsed.KEEL_TOOL_TIMEOUT_MS,
        maxConcurrency: parsed.KEEL_TOOL_MAX_CONCURRENCY,
        maxResultBytes: parsed.KEEL_TOOL_MAX_RESULT_BYTES,
      },
      dispatch: {
        maxRetries: parsed.KEEL_TOOL_MAX_RETRIES,
        maxQueue: parsed.KEEL_TOOL_MAX_QUEUE,
        breakerFailures: parsed.KEEL_TOOL_BREAKER_FAILURES,
        halfOpenAfterMs: parsed.KEEL_TOOL_BREAKER_HALF_OPEN_MS,
      },
    },
    shutdownGraceMs: parsed.KEEL_SHUTDOWN_GRACE_MS,
    diagnosticInlineQueues: parsed.KEEL_DIAGNOSTIC_INLINE_QUEUES ?? [],
    diagnosticBodyOnLoop: parsed.KEEL_DIAGNOSTIC_BODY_ON_LOOP,
  };
}

export const KEEL_CONFIG = Symbol('KEEL_CONFIG');
