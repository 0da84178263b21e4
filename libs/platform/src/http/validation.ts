import { ValidationPipe, type ValidationError } from '@nestjs/common';
import * as classTransformer from 'class-transformer';
import * as classValidator from 'class-validator';
import { KeelError, type ErrorDetail } from '@keel/contracts/jobs';

/** `documents.3.text` → `documents[3].text`: the index a client needs to find its bad item. */
function fieldPath(parent: string, property: string): string {
  if (/^\d+$/.test(property)) return `${parent}[${property}]`;
  return parent ? `${parent}.${property}` : property;
}

function details(errors: ValidationError[], parent = ''): ErrorDetail[] {
  return errors.flatMap((e) => {
    const field = fieldPath(parent, e.property);
    const own = Object.entries(e.constraints ?? {}).map(([rule, message]) => ({
      field,
      message:
        rule === 'whitelistValidation'
          ? `${field} is not a known field`
          : message.replace(e.property, field),
    }));
    return [...own, ...details(e.children ?? [], field)];
  });
}

/**
 * Whitelisting with forbidNonWhitelisted: an unknown field is a client bug worth a 400, not
 * something to drop silently. Errors name each field by its full path.
 */
export function createValidationPipe(): ValidationPipe {
  return new ValidationPipe({
    // Given, not loaded by Nest with import(): in the bundle a CommonJS package imported that way
    // has only a default export.
    validatorPackage: classValidator,
    transformerPackage: classTransformer,
    whitelist: true,
    forbidNonWhitelisted: true,
    forbidUnknownValues: true,
    transform: true,
    transformOptions: { enableImplicitConversion: false },
    validationError: { target: false, value: false },
    exceptionFactory: (errors) => {
      const list = details(errors);
      const first = list[0];
      return new KeelError(
        'VALIDATION_FAILED',
        first
          ? `${first.message}${list.length > 1 ? ` (and ${list.length - 1} more)` : ''}`
          : 'invalid request',
        list,
      );
    },
  });
}
