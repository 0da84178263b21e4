import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import { KeelError, type ErrorDetail } from '@keel/contracts/jobs';
import type { JsonSchema } from './tool-types.js';

// ajv-formats is CommonJS with `exports.default`; under NodeNext the default import is the module.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/**
 * One Ajv for the tool schemas. Strict, so a typo in a schema (`requried`, `minimun`) fails the
 * registration instead of silently validating nothing; allErrors, so the model learns every
 * problem of its arguments in one round trip; useDefaults, so `topK` gets its default before the
 * tool sees the arguments. Union types (`["string","null"]`) are common in tool schemas and safe.
 */
export function createToolAjv(): Ajv2020 {
  const ajv = new Ajv2020({
    strict: true,
    allErrors: true,
    useDefaults: true,
    allowUnionTypes: true,
    // Tool schemas come from many sources; a schema's `$id` must not clash with another tool's.
    addUsedSchema: false,
  });
  addFormats(ajv);
  return ajv;
}

/**
 * Compiles `schema`, or throws TOOL_INVALID naming `field` and Ajv's reason. A `$schema` of
 * another draft (MCP servers often say draft-07) is dropped: tool schemas use the keywords the
 * drafts share, and Ajv 2020 refuses to compile a schema that names a meta-schema it lacks.
 */
export function compileSchema(
  ajv: Ajv2020,
  schema: JsonSchema,
  field: string,
  tool: string,
): ValidateFunction {
  const { $schema: _ignored, ...rest } = schema;
  try {
    return ajv.compile(rest);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new KeelError(
      'TOOL_INVALID',
      `tool ${tool}: ${field} is not a valid JSON Schema: ${message}`,
      [{ field, message }],
    );
  }
}

/** One Ajv error without its path: `must be string`, `must be one of: "c", "f"`. */
function reason(e: ErrorObject): string {
  const params = e.params as Record<string, unknown>;
  if (e.keyword === 'additionalProperties') {
    return `must not have the property '${String(params.additionalProperty)}'`;
  }
  if (e.keyword === 'enum' && Array.isArray(params.allowedValues)) {
    return `must be one of: ${params.allowedValues.map((v) => JSON.stringify(v)).join(', ')}`;
  }
  return e.message ?? 'is invalid';
}

function where(e: ErrorObject): string {
  return e.instancePath === '' ? '(root)' : e.instancePath;
}

/**
 * Ajv's errors as lines a model (or a person) can act on: `/city must be string`,
 * `(root) must have required property 'city'`, `/unit must be one of: "c", "f"`.
 */
export function describeAjvErrors(errors: readonly ErrorObject[] | null | undefined): string[] {
  return (errors ?? []).map((e) => `${where(e)} ${reason(e)}`);
}

/** The same, as API error details (a tool declaration's problems), under `prefix`. */
export function ajvDetails(
  errors: readonly ErrorObject[] | null | undefined,
  prefix = '',
): ErrorDetail[] {
  return (errors ?? []).map((e) => ({
    field: `${prefix}${e.instancePath}` || '(root)',
    message: reason(e),
  }));
}
