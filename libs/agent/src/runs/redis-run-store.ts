import type { Redis } from 'ioredis';
import type { ChatUsage } from '@keel/inference';
import {
  ABANDONED,
  type AgentRun,
  type AgentRunStore,
  type AgentStep,
  type RunEnd,
  type RunStatus,
} from './types.js';

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
      .zadd(this.openKey, Date.parse(run.createdAt), run.id);
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
    const open = fields.status === 'queued' || fields.status === 'running';
    // The script checks again: a renewal since this read, or another reader first, wins.
    if (abandonLapsed && open && fields.leased === '1' && leaseHeld === 0) {
      await this.end(id, ABANDONED, true);
      return this.read(id, false);
    }
    return {
      id,
      status: fields.status as RunStatus,
      spec: JSON.parse(fields.spec) as AgentRun['spec'],
      steps: steps.map((s) => JSON.parse(s) as AgentStep),
      ...(fields.answer !== undefined ? { answer: fields.answer } : {}),
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
