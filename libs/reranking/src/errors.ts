/**
 * Codes of {@link RerankError}; both are codes of `@keel/contracts`' `ERROR_STATUS` (400), so the
 * API's error mapping turns them into client errors.
 */
export const RERANK_ERROR_CODES = ['RERANK_METHOD_UNKNOWN', 'VALIDATION_FAILED'] as const;
export type RerankErrorCode = (typeof RERANK_ERROR_CODES)[number];

/** A caller mistake, with a stable `code`; plain (no Nest), so it can be thrown in a worker. */
export class RerankError extends Error {
  override readonly name = 'RerankError';

  constructor(
    readonly code: RerankErrorCode,
    message: string,
  ) {
    super(message);
  }
}
