/**
 * Codes of the errors packing throws. They are codes of the API's error table (`@keel/contracts`),
 * so the error filter maps them to HTTP without knowing this lib; a pure lib cannot import it.
 */
export type PackingErrorCode = 'PACK_BUDGET_TOO_SMALL' | 'VALIDATION_FAILED';

/** An error of packing's input, with a stable `code`. */
export class PackingError extends Error {
  override readonly name: string = 'PackingError';

  constructor(
    readonly code: PackingErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** The template and the query alone take more tokens than the budget. */
export class PackBudgetTooSmallError extends PackingError {
  override readonly name: string = 'PackBudgetTooSmallError';

  constructor(
    /** Tokens of the prompt with an empty context: the least budget that can work. */
    readonly requiredTokens: number,
    readonly budgetTokens: number,
  ) {
    super(
      'PACK_BUDGET_TOO_SMALL',
      `the prompt template and the query alone take ${requiredTokens} tokens, more than the budget of ${budgetTokens}`,
    );
  }
}
