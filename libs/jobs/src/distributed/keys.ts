/** Keel's own Redis keys, under the BullMQ prefix so one prefix (and one hash tag) covers all. */
export const keys = {
  /** Pub/sub: a job id whose run should stop (request/reply timeouts, cancelled tracked jobs). */
  cancelChannel: (prefix: string) => `${prefix}:keel:cancel`,
  /** A cancelled tracked job's record, kept for GET /v1/jobs/:id after the job itself is gone. */
  cancelled: (prefix: string, id: string) => `${prefix}:keel:cancelled:${id}`,
  /** A tracked job's payload as JSON bytes (see JobEnvelope.payloadKey). */
  payload: (prefix: string, id: string) => `${prefix}:keel:payload:${id}`,
};
