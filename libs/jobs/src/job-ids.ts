import { createHash } from 'node:crypto';

/** Keel's namespace for name-based job ids (a random UUID, fixed forever). */
const NAMESPACE = Buffer.from('5b0e1d6c9a6f4d0e8d6c2f1e7a3b9c40', 'hex');

/**
 * The job id of an idempotent enqueue: a UUID v5 (RFC 9562) of the queue and the caller's key, so
 * the same request retried gives the same id in every process (and BullMQ refuses a second job
 * with an id it already holds).
 */
export function idempotentJobId(queue: string, key: string): string {
  const hash = createHash('sha1').update(NAMESPACE).update(`${queue}\n${key}`).digest();
  hash[6] = (hash[6] & 0x0f) | 0x50;
  hash[8] = (hash[8] & 0x3f) | 0x80;
  const hex = hash.subarray(0, 16).toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}
