import { registerDecorator, ValidationOptions } from 'class-validator';
import {
  METADATA_KEY_PATTERN,
  METADATA_MAX_KEYS,
  METADATA_VALUE_MAX_CHARS,
  type MetadataValue,
} from './limits.js';

function isMetadataValue(value: unknown): value is MetadataValue {
  return (
    (typeof value === 'string' && value.length <= METADATA_VALUE_MAX_CHARS) ||
    (typeof value === 'number' && Number.isFinite(value)) ||
    typeof value === 'boolean'
  );
}

/** A flat object of at most 64 keys whose values are strings, finite numbers or booleans. */
export function isFlatMetadata(value: unknown): boolean {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false;
  const entries = Object.entries(value);
  return (
    entries.length <= METADATA_MAX_KEYS &&
    entries.every(([key, v]) => METADATA_KEY_PATTERN.test(key) && isMetadataValue(v))
  );
}

export function IsFlatMetadata(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isFlatMetadata',
      target: target.constructor,
      propertyName: String(propertyName),
      options: {
        message: `$property must be a flat object of at most ${METADATA_MAX_KEYS} keys matching ${METADATA_KEY_PATTERN.source} with string, number or boolean values`,
        ...options,
      },
      validator: { validate: isFlatMetadata },
    });
  };
}

/** A string with something other than white space in it. */
export function IsNotBlank(options?: ValidationOptions): PropertyDecorator {
  return (target: object, propertyName: string | symbol) => {
    registerDecorator({
      name: 'isNotBlank',
      target: target.constructor,
      propertyName: String(propertyName),
      options: { message: '$property must not be empty', ...options },
      validator: { validate: (value: unknown) => typeof value === 'string' && value.trim() !== '' },
    });
  };
}
