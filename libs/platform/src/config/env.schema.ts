import { Transform, Type } from 'class-transformer';
import {
  IsBoolean,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
  ValidateIf,
} from 'class-validator';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
const EMBEDDINGS_PROTOCOLS = ['openai', 'tei', 'kserve'] as const;
const RERANK_PROTOCOLS = ['tei', 'kserve', 'cohere'] as const;

const url = { require_tld: false, require_protocol: true } as const;
const emptyToUndefined = ({ value }: { value: unknown }): unknown =>
  value === '' ? undefined : value;

/**
 * The environment Keel reads: one schema, validated once at boot (STYLE.md #5). Every size, count
 * and time has a bound here with a default. Nothing else reads `process.env`.
 */
export class EnvSchema {
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(65_535)
  PORT = 3000;

  @IsString()
  HOST = '0.0.0.0';

  @IsString()
  @MinLength(1)
  KEEL_DATA_DIR = './.keel';

  /** Datasets evaluations may name instead of uploading (BEIR directories, answer JSONL files). */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(1)
  KEEL_DATASETS_DIR?: string;

  /** Deadline of one evaluation run. */
  @Type(() => Number)
  @IsInt()
  @Min(1_000)
  @Max(86_400_000)
  KEEL_EVAL_TIMEOUT_MS = 3_600_000;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ ...url, protocols: ['redis', 'rediss'] })
  REDIS_URL?: string;

  /**
   * Prefix of every BullMQ key (`<prefix>:<queue>:wait`, …). On Redis Cluster make it a hash tag
   * such as `{bull}`, so all keys of a queue share a slot; KEDA's listNames must use the same one.
   */
  @IsString()
  @Matches(/^[A-Za-z0-9_{}.-]{1,64}$/, {
    message: 'KEEL_QUEUE_PREFIX must be 1-64 of [A-Za-z0-9_{}.-]',
  })
  KEEL_QUEUE_PREFIX = 'bull';

  /** Jobs a worker runs at once per queue; unset → the container's CPU quota (whole cores). */
  @Transform(emptyToUndefined)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(256)
  KEEL_WORKER_CONCURRENCY?: number;

  /** The worker's own small HTTP port: /health/live, /health/ready, /metrics. */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(65_535)
  KEEL_WORKER_PORT = 3001;

  /**
   * Waiting jobs (wait + prioritized) a queue may hold before new synchronous work on it gets 429:
   * past it, a request would queue behind more work than its deadline allows.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  KEEL_QUEUE_MAX_BACKLOG = 256;

  /** Attempts of a retried job (ingest, eval) before it is failed for good. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(20)
  KEEL_JOB_ATTEMPTS = 3;

  /** First retry delay; doubles each attempt, with jitter. */
  @Type(() => Number)
  @IsInt()
  @Min(10)
  @Max(600_000)
  KEEL_JOB_BACKOFF_MS = 1_000;

  /**
   * BullMQ's lock on an active job: renewed every half of it while the worker lives; when a worker
   * dies, another one takes the job back after about this long.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1_000)
  @Max(600_000)
  KEEL_JOB_LOCK_MS = 30_000;

  /** Deadline of one call to Redis (connect, command) from the API. */
  @Type(() => Number)
  @IsInt()
  @Min(50)
  @Max(60_000)
  KEEL_REDIS_TIMEOUT_MS = 2_000;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ ...url, protocols: ['http', 'https'] })
  OPENSEARCH_URL?: string;

  /** Deadline of one OpenSearch call when the request leaves more time. */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(600_000)
  OPENSEARCH_TIMEOUT_MS = 10_000;

  /** Replicas of the indices Keel creates (0 on a single-node cluster). */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(10)
  OPENSEARCH_REPLICAS = 0;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ ...url, protocols: ['http', 'https'] })
  EMBEDDINGS_URL?: string;

  @ValidateIf((env: EnvSchema) => env.EMBEDDINGS_URL !== undefined)
  @IsIn(EMBEDDINGS_PROTOCOLS)
  EMBEDDINGS_PROTOCOL: (typeof EMBEDDINGS_PROTOCOLS)[number] = 'openai';

  /** Required by the openai and kserve protocols (body and path name it); TEI ignores it. */
  @Transform(emptyToUndefined)
  @ValidateIf(
    (env: EnvSchema) =>
      env.EMBEDDINGS_MODEL !== undefined ||
      (env.EMBEDDINGS_URL !== undefined && env.EMBEDDINGS_PROTOCOL !== 'tei'),
  )
  @IsString({ message: 'EMBEDDINGS_MODEL is required with the openai and kserve protocols' })
  @MinLength(1)
  EMBEDDINGS_MODEL?: string;

  /** Length of the model's vectors; unset → taken from the first answer, then held to it. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(65_536)
  EMBEDDINGS_DIMENSIONS?: number;

  /** Texts per request to the embedding server (OpenAI takes at most 2048). */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(2_048)
  EMBEDDINGS_BATCH_SIZE = 32;

  /** Requests of one embedding call in flight at once. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(64)
  EMBEDDINGS_CONCURRENCY = 2;

  /** Deadline of one HTTP attempt to the embedding server (the caller's deadline may cut it). */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(600_000)
  EMBEDDINGS_TIMEOUT_MS = 10_000;

  /** Retries of a request on 429, 503, connection errors and timeouts. */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(10)
  EMBEDDINGS_MAX_RETRIES = 3;

  /** Sent as a bearer token; redacted in logs and never in an error message. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  EMBEDDINGS_API_KEY?: string;

  /** Instruction prepended to queries before embedding (E5's `query: `); default none. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MaxLength(256)
  EMBEDDINGS_QUERY_PREFIX?: string;

  /** Instruction prepended to documents before embedding (E5's `passage: `); default none. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MaxLength(256)
  EMBEDDINGS_DOCUMENT_PREFIX?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ ...url, protocols: ['http', 'https'] })
  RERANK_URL?: string;

  @ValidateIf((env: EnvSchema) => env.RERANK_URL !== undefined)
  @IsIn(RERANK_PROTOCOLS)
  RERANK_PROTOCOL: (typeof RERANK_PROTOCOLS)[number] = 'tei';

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsUrl({ ...url, protocols: ['http', 'https'] })
  LLM_URL?: string;

  /** Required with LLM_URL: the body of every chat-completions request names it. */
  @Transform(emptyToUndefined)
  @ValidateIf((env: EnvSchema) => env.LLM_MODEL !== undefined || env.LLM_URL !== undefined)
  @IsString({ message: 'LLM_MODEL is required when LLM_URL is set' })
  @MinLength(1)
  LLM_MODEL?: string;

  /**
   * Deadline of one attempt at the LLM: the whole answer, or a stream's first byte (the request's
   * deadline may cut it). Generation is slow, hence a minute.
   */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(600_000)
  LLM_TIMEOUT_MS = 60_000;

  /** Retries of a chat request on 429, 503, connection errors and timeouts, before any answer. */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(10)
  LLM_MAX_RETRIES = 2;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  LLM_API_KEY?: string;

  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'KEEL_ADMIN_TOKEN must be at least 16 characters' })
  KEEL_ADMIN_TOKEN?: string;

  @IsIn(LOG_LEVELS)
  LOG_LEVEL: (typeof LOG_LEVELS)[number] = 'info';

  /** Largest accepted request body; an ingest batch is bounded by it. */
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @Max(256 * 1024 * 1024)
  KEEL_BODY_LIMIT_BYTES = 10 * 1024 * 1024;

  /**
   * Bytes of request bodies (ingest, rerank, pack) read and waiting for the API's body thread to
   * parse them; a body that would take the backlog past it gets 429 (one body alone is always
   * taken). In bytes, not bodies: a burst of small rerank requests is not a 7 MB ingest batch.
   */
  @Type(() => Number)
  @IsInt()
  @Min(64 * 1024)
  @Max(4 * 1024 * 1024 * 1024)
  KEEL_BODY_DECODE_BACKLOG_BYTES = 64 * 1024 * 1024;

  /** Deadline of a synchronous request unless the client asks for less. */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(600_000)
  KEEL_REQUEST_TIMEOUT_MS = 30_000;

  /** Deadline of one ingest job (chunking and the write transaction). */
  @Type(() => Number)
  @IsInt()
  @Min(1_000)
  @Max(3_600_000)
  KEEL_INGEST_TIMEOUT_MS = 600_000;

  /** Worker threads of the embedded pool; unset → the container's CPU quota. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(256)
  KEEL_POOL_THREADS?: number;

  /** Tasks allowed to wait for a pool thread; past it, synchronous work is shed with 429. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100_000)
  KEEL_POOL_MAX_QUEUE = 256;

  /** Ingest jobs accepted but not finished; past it, ingest is refused with 429. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100_000)
  KEEL_INGEST_MAX_BACKLOG = 64;

  /** How long finished job records are kept for GET /v1/jobs/:id. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(24 * 365)
  KEEL_JOB_RETENTION_HOURS = 24;

  /**
   * DIAGNOSTIC ONLY: comma-separated queues (e.g. `rerank`) whose request/reply jobs run on the
   * API's event loop instead of the pool, to measure what that costs. Unset in production.
   */
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string' && value.trim() !== ''
      ? value.split(',').map((q) => q.trim())
      : undefined,
  )
  @IsOptional()
  @IsIn(['ingest', 'search', 'rerank', 'pack', 'eval'], { each: true })
  KEEL_DIAGNOSTIC_INLINE_QUEUES?: Array<'ingest' | 'search' | 'rerank' | 'pack' | 'eval'>;

  /**
   * DIAGNOSTIC ONLY: ingest, rerank and pack bodies are parsed and validated on the API's event
   * loop instead of its body thread, to measure what that costs. Unset in production.
   */
  @Transform(({ value }: { value: unknown }) =>
    value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value,
  )
  @IsBoolean({ message: 'KEEL_DIAGNOSTIC_BODY_ON_LOOP must be true or false' })
  KEEL_DIAGNOSTIC_BODY_ON_LOOP = false;

  /**
   * Async agent runs (jobs on the `agent` queue) one API process executes at once. They wait on
   * the LLM and tool servers, not the CPU, so this is not sized from the CPU quota; in Kubernetes
   * it is also the API ScaledObject's target (agent runs per pod).
   */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_024)
  KEEL_AGENT_CONCURRENCY = 16;

  /**
   * Hosts HTTP tools may call: names (`api.example.com`), `*.example.com` (subdomains) or `*`.
   * Unset: none, so no HTTP tool can be registered until an operator says where tools may go.
   */
  @Transform(({ value }: { value: unknown }) =>
    typeof value === 'string'
      ? value
          .split(',')
          .map((h) => h.trim())
          .filter((h) => h !== '')
      : value,
  )
  @IsOptional()
  @Matches(/^(\*|(\*\.)?[A-Za-z0-9.:[\]_-]+)$/, {
    each: true,
    message: 'KEEL_TOOL_ALLOWED_HOSTS entries must be host names, *.domain patterns or *',
  })
  KEEL_TOOL_ALLOWED_HOSTS: string[] = [];

  /** Lets HTTP tools reach private, loopback and CGNAT addresses (on-prem services, tests). */
  @Transform(({ value }: { value: unknown }) =>
    value === 'true' || value === '1' ? true : value === 'false' || value === '0' ? false : value,
  )
  @IsBoolean({ message: 'KEEL_TOOL_ALLOW_PRIVATE_NETWORKS must be true or false' })
  KEEL_TOOL_ALLOW_PRIVATE_NETWORKS = false;

  /** JSON file of HTTP tools and MCP servers registered at boot. */
  @Transform(emptyToUndefined)
  @IsOptional()
  @IsString()
  @MinLength(1)
  KEEL_TOOLS_FILE?: string;

  /** Bound of one tool call attempt unless the tool sets its own. */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(600_000)
  KEEL_TOOL_TIMEOUT_MS = 10_000;

  /** Calls of one tool in flight at once (its bulkhead) unless the tool sets its own. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_024)
  KEEL_TOOL_MAX_CONCURRENCY = 8;

  /** Calls that may wait for a busy tool; past it, TOOL_OVERLOADED. */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(10_000)
  KEEL_TOOL_MAX_QUEUE = 4;

  /** Largest tool result (serialized JSON bytes) unless the tool sets its own. */
  @Type(() => Number)
  @IsInt()
  @Min(1_024)
  @Max(64 * 1024 * 1024)
  KEEL_TOOL_MAX_RESULT_BYTES = 256 * 1024;

  /** Retries of an idempotent tool's transient failures (timeouts, 5xx, dropped connections). */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(10)
  KEEL_TOOL_MAX_RETRIES = 2;

  /** Consecutive failures of a tool that open its circuit. */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1_000)
  KEEL_TOOL_BREAKER_FAILURES = 5;

  /** How long an open circuit refuses calls before one trial call. */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  KEEL_TOOL_BREAKER_HALF_OPEN_MS = 30_000;

  /**
   * A synchronous agent run's lease: the process running it renews it every third of this; once
   * it lapses (the process died), reading the run ends it failed, AGENT_RUN_ABANDONED.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1_000)
  @Max(600_000)
  KEEL_AGENT_RUN_LEASE_MS = 15_000;

  /** Time given to in-flight requests and jobs after SIGTERM. */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(600_000)
  KEEL_SHUTDOWN_GRACE_MS = 10_000;
}
