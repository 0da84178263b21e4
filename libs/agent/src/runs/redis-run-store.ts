import type { Redis } from 'ioredis';
import type { ChatUsage } from '@keel/inference';
import {
  ABANDONED,
  runCursor,
  type AgentRun,
  type AgentRunStore,
  type AgentStep,
  type RunEnd,
  type RunListQuery,
  type RunPage,
  type RunStatus,
  type RunSummary,
} from './types.js';

/** Runs a list reads from the index per round trip, and at most per page (status filters). */
const LIST_BATCH = 100;
const LIST_MAX_SCANNED = 1_000;
/** Index entries older than the retention by this much are trimmed at each create. */
const INDEX_GRACE_MS = 86_400_000;

// Conditional transitions as scripts: atomic on the server, safe however many API replicas and
// runs share a connection (WATCH is per connection and would not be).
const START = `
local s = redis.call('HGET', KEYS[1], 'status')
if s ~= 'queued' and s ~= 'running' then return 0 end
redis.call('HSET', KEYS[1], 'status', 'running')
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSETNX', KEYS[1], 'startedAt', ARGV[1])
return 1`;

// ARGV[8] = '1': only if the run holds a lease and the lease key has expired (an abandoned run).
const FINISH = `
local s = redis.call('HGET', KEYS[1], 'status')
if s ~= 'queued' and s ~= 'running' then return 0 end
if ARGV[8] == '1' and (redis.call('HGET', KEYS[1], 'leased') ~= '1' or redis.call('EXISTS', KEYS[4]) == 1) then
  return 0
end
redis.call('HSET', KEYS[1], 'status', ARGV[1], 'endReason', ARGV[2], 'finishedAt', ARGV[3])
if ARGV[4] ~= '' then redis.call('HSET', KEYS[1], 'answer', ARGV[4]) end
if ARGV[5] ~= '' then redis.call('HSET', KEYS[1], 'error', ARGV[5]) end
redis.call('ZREM', KEYS[3], ARGV[6])
redis.call('EXPIRE', KEYS[1], ARGV[7])
redis.call('EXPIRE', KEYS[2], ARGV[7])
redis.call('DEL', KEYS[4])
return 1`;

const RENEW = `
local s = redis.call('HGET', KEYS[1], 'status')
if s ~= 'queued' and s ~= 'running' then return 0 end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[1])
return 1`;

/**
 * Agent runs of the distributed mode in Redis: a hash per run and a list of its steps, so a step
 * is one RPUSH and never rewrites the run. Every API replica reads the same runs; finished runs
 * expire after the retention period. A synchronous run's lease is a key with a TTL (`leased` in
 * the hash says it has one): Redis's clock decides when it lapses, not the replicas' clocks.
 */
export class RedisRunStore implements AgentRunStore {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
    private readonly retentionSeconds: number,
  ) {}

  private runKey(id: string): string {
    return `${this.prefix}:agent:run:${id}`;
  }

  private stepsKey(id: string): string {
    return `${this.prefix}:agent:steps:${id}`;
  }

  private leaseKey(id: string): string {
    return `${this.prefix}:agent:lease:${id}`;
  }

  private get openKey(): string {
    return `${this.prefix}:agent:unfinished`;
  }

  /**
   * Every run, for the list: members `<created ms, 15 digits>:<id>` at score 0, so newest first
   * is a reverse lexical range and a cursor is an exact bound. Entries of expired runs are
   * removed when a list meets them and trimmed by age at each create.
   */
  private get indexKey(): string {
    return `${this.prefix}:agent:runs`;
  }

  async create(run: AgentRun, lease?: { ms: number }): Promise<void> {
    const multi = this.redis
      .multi()
      .hset(this.runKey(run.id), {
        status: run.status,
        spec: JSON.stringify(run.spec),
        createdAt: run.createdAt,
        promptTokens: 0,
        completionTokens: 0,
        attempts: 0,
        ...(run.requestId ? { requestId: run.requestId } : {}),
        ...(lease ? { leased: '1' } : {}),
      })
      .zadd(this.openKey, Date.parse(run.createdAt), run.id)
      .zadd(this.indexKey, 0, runCursor(run))
      .zremrangebylex(
        this.indexKey,
        '-',
        `(${runCursor({ id: '', createdAt: new Date(Date.now() - this.retentionSeconds * 1_000 - INDEX_GRACE_MS).toISOString() })}`,
      );
    if (lease) multi.set(this.leaseKey(run.id), '1', 'PX', lease.ms);
    await multi.exec();
  }

  get(id: string): Promise<AgentRun | undefined> {
    return this.read(id, true);
  }

  private async read(id: string, abandonLapsed: boolean): Promise<AgentRun | undefined> {
    const [[, fields], [, steps], [, leaseHeld]] = (await this.redis
      .multi()
      .hgetall(this.runKey(id))
      .lrange(this.stepsKey(id), 0, -1)
      .exists(this.leaseKey(id))
      .exec()) as [[unknown, Record<string, string>], [unknown, string[]], [unknown, number]];
    if (!fields.status) return undefined;
    // The script checks again: a renewal since this read, or another reader first, wins.
    if (abandonLapsed && lapsed(fields, leaseHeld)) {
      await this.end(id, ABANDONED, true);
      return this.read(id, false);
    }
    return {
      ...summaryOf(id, fields),
      steps: steps.map((s) => JSON.parse(s) as AgentStep),
      ...(fields.answer !== undefined ? { answer: fields.answer } : {}),
    };
  }

  async list(query: RunListQuery): Promise<RunPage> {
    const runs: RunSummary[] = [];
    let max = query.before ? `(${query.before}` : '+';
    let scanned = 0;
    let last: string | undefined;
    let exhausted = false;
    while (runs.length < query.limit && scanned < LIST_MAX_SCANNED) {
      const members = await this.redis.zrevrangebylex(
        this.indexKey,
        max,
        '-',
        'LIMIT',
        0,
        LIST_BATCH,
      );
      const multi = this.redis.multi();
      for (const member of members) {
        const id = member.slice(member.indexOf(':') + 1);
        multi.hgetall(this.runKey(id)).llen(this.stepsKey(id)).exists(this.leaseKey(id));
      }
      const replies = members.length > 0 ? ((await multi.exec()) ?? []) : [];
      const gone: string[] = [];
      let i = 0;
      for (; i < members.length && runs.length < query.limit; i++) {
        const member = members[i];
        const id = member.slice(member.indexOf(':') + 1);
        let fields = replies[i * 3]?.[1] as Record<string, string>;
        const stepCount = replies[i * 3 + 1]?.[1] as number;
        const leaseHeld = replies[i * 3 + 2]?.[1] as number;
        scanned++;
        last = member;
        if (!fields?.status) {
          gone.push(member);
          continue;
        }
        if (lapsed(fields, leaseHeld)) {
          await this.end(id, ABANDONED, true);
          fields = await this.redis.hgetall(this.runKey(id));
        }
        if (query.status && fields.status !== query.status) continue;
        runs.push({ ...summaryOf(id, fields), stepCount });
      }
      if (gone.length > 0) await this.redis.zrem(this.indexKey, ...gone);
      if (members.length < LIST_BATCH && i === members.length) {
        exhausted = true;
        break;
      }
      max = `(${last}`;
    }
    return { runs, ...(!exhausted && last ? { next: last } : {}) };
  }

  async start(id: string): Promise<AgentRun | undefined> {
    const started = await this.redis.eval(START, 1, this.runKey(id), new Date().toISOString());
    return started === 1 ? this.get(id) : undefined;
  }

  async appendStep(id: string, step: AgentStep, usage: ChatUsage): Promise<void> {
    await this.redis
      .multi()
      .rpush(this.stepsKey(id), JSON.stringify(step))
      .hincrby(this.runKey(id), 'promptTokens', usage.promptTokens)
      .hincrby(this.runKey(id), 'completionTokens', usage.completionTokens)
      .exec();
  }

  async finish(id: string, end: RunEnd): Promise<void> {
    await this.end(id, end, false);
  }

  async renewLease(id: string, ms: number): Promise<boolean> {
    return (await this.redis.eval(RENEW, 2, this.runKey(id), this.leaseKey(id), ms)) === 1;
  }

  private async end(id: string, end: RunEnd, onlyIfLeaseLapsed: boolean): Promise<void> {
    await this.redis.eval(
      FINISH,
      4,
      this.runKey(id),
      this.stepsKey(id),
      this.openKey,
      this.leaseKey(id),
      end.status,
      end.endReason,
      new Date().toISOString(),
      end.answer ?? '',
      end.error ? JSON.stringify(end.error) : '',
      id,
      String(this.retentionSeconds),
      onlyIfLeaseLapsed ? '1' : '0',
    );
  }

  async requestCancel(id: string): Promise<void> {
    await this.redis.hset(this.runKey(id), 'cancelRequested', '1');
  }

  async unfinished(): Promise<string[]> {
    return this.redis.zrange(this.openKey, 0, -1);
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

function lapsed(fields: Record<string, string>, leaseHeld: number): boolean {
  const open = fields.status === 'queued' || fields.status === 'running';
  return open && fields.leased === '1' && leaseHeld === 0;
}

/** A run's hash as the run, without its steps and answer (kept apart, as a list shows it). */
function summaryOf(id: string, fields: Record<string, string>): Omit<RunSummary, 'stepCount'> {
  return {
    id,
    status: fields.status as RunStatus,
    spec: JSON.parse(fields.spec) as AgentRun['spec'],
    ...(fields.endReason ? { endReason: fields.endReason as AgentRun['endReason'] } : {}),
    ...(fields.error ? { error: JSON.parse(fields.error) as AgentRun['error'] } : {}),
    usage: {
      promptTokens: Number(fields.promptTokens ?? 0),
      completionTokens: Number(fields.completionTokens ?? 0),
    },
    ...(fields.requestId ? { requestId: fields.requestId } : {}),
    createdAt: fields.createdAt,
    ...(fields.startedAt ? { startedAt: fields.startedAt } : {}),
    ...(fields.finishedAt ? { finishedAt: fields.finishedAt } : {}),
    ...(fields.cancelRequested ? { cancelRequested: true } : {}),
    attempts: Number(fields.attempts ?? 0),
  };
}
