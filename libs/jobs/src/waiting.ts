import { KeelError } from '@keel/contracts/jobs';

/**
 * Why a caller stopped waiting for a tracked job. The job itself goes on either way (it is
 * tracked: its record stays readable), so the error says where to look. A deadline that passed is
 * DEADLINE_EXCEEDED (504), not CANCELLED (499): the client did not go away, the server's or the
 * client's time limit ran out.
 */
export function stoppedWaiting(id: string, signal: AbortSignal | undefined): KeelError {
  const reason: unknown = signal?.reason;
  const deadline =
    (reason instanceof DOMException && reason.name === 'TimeoutError') ||
    (reason instanceof KeelError && reason.code === 'DEADLINE_EXCEEDED');
  return deadline
    ? new KeelError(
        'DEADLINE_EXCEEDED',
        `the request's deadline passed before job '${id}' finished; it goes on: GET /v1/jobs/${id}`,
      )
    : new KeelError('CANCELLED', `stopped waiting for job '${id}'; it goes on`);
}
