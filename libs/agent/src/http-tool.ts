import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { KeelError, type ErrorDetail } from '@keel/contracts/jobs';
import type { EgressPolicy } from './egress.js';
import { describe, scrub, type GuardedHttp } from './http-request.js';
import { DEFAULT_TOOL_LIMITS, type ToolDefaults } from './limits.js';
import { isObject } from './registry.js';
import { ajvDetails } from './schema.js';
import { SECRET_ENV_PREFIX, type SecretSource } from './secrets.js';
import { ToolError } from './tool-error.js';
import type { JsonSchema, Tool, ToolInvocation } from './tool-types.js';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A header value: literal, or the name of a secret read at call time. */
export type HeaderValue = string | { secret: string };

/** An HTTP tool as POST /v1/tools and the tools file declare it. */
export interface HttpToolDeclaration {
  name: string;
  description: string;
  parameters: JsonSchema;
  result?: JsonSchema;
  /** Default: true for GET, false otherwise (many APIs' PUT and DELETE are not, whatever the RFC says). */
  idempotent?: boolean;
  timeoutMs?: number;
  maxConcurrency?: number;
  maxResultBytes?: number;
  http: {
    method: HttpMethod;
    /** `https://api.example.com/weather/{city}`: `{param}` in the path or query, URL-encoded. */
    url: string;
    headers?: Record<string, HeaderValue>;
  };
}

/** What an HTTP tool needs from the process: the egress rules, its HTTP client, its secrets. */
export interface HttpToolContext {
  egress: EgressPolicy;
  http: GuardedHttp;
  secrets: SecretSource;
  defaults?: ToolDefaults;
}

/**
 * An HTTP tool keeps its declaration (secrets as names only) to make its calls. Plain header
 * values are in it too: what the API shows is `shownHttp(declaration)`, never the declaration.
 */
export interface HttpTool extends Tool {
  readonly declaration: HttpToolDeclaration;
}

/** What stands for a plain header value wherever a declaration is shown. */
export const REDACTED_HEADER = '***';

/** The `http` of a declaration as the API shows it: header names, never their values. */
export interface ShownHttp {
  method: HttpMethod;
  url: string;
  /** A plain value is `***`; a secret is shown by its name (`{ secret: 'WEATHER_TOKEN' }`). */
  headers?: Record<string, typeof REDACTED_HEADER | { secret: string }>;
}

/**
 * The request half of a declaration with its header values redacted. A plain value is as likely
 * to be a credential as a secret's (an `X-Api-Key` written inline), so none is shown; a secret's
 * name is not secret and tells an operator which KEEL_TOOL_SECRET_* the tool reads.
 */
export function shownHttp(declaration: HttpToolDeclaration): ShownHttp {
  const { method, url, headers } = declaration.http;
  if (headers === undefined) return { method, url };
  return {
    method,
    url,
    headers: Object.fromEntries(
      Object.entries(headers).map(([name, value]) => [
        name,
        typeof value === 'string' ? REDACTED_HEADER : { secret: value.secret },
      ]),
    ),
  };
}

const HEADER_NAME = "^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,128}$";
/** Headers the client sets itself; a declaration setting them would confuse the request. */
const RESERVED_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection']);

const DECLARATION_SCHEMA = {
  type: 'object',
  additionalProperties: false,
  required: ['name', 'description', 'parameters', 'http'],
  properties: {
    name: { type: 'string', pattern: '^[a-zA-Z0-9_-]{1,64}$' },
    description: { type: 'string', minLength: 1, maxLength: 4096 },
    parameters: { type: 'object' },
    result: { type: 'object' },
    idempotent: { type: 'boolean' },
    timeoutMs: { type: 'integer', minimum: 1, maximum: 600_000 },
    maxConcurrency: { type: 'integer', minimum: 1, maximum: 1024 },
    maxResultBytes: { type: 'integer', minimum: 1, maximum: 64 * 1024 * 1024 },
    http: {
      type: 'object',
      additionalProperties: false,
      required: ['method', 'url'],
      properties: {
        method: { enum: ['GET', 'POST', 'PUT', 'DELETE'] },
        url: { type: 'string', minLength: 1, maxLength: 2048 },
        headers: {
          type: 'object',
          propertyNames: { pattern: HEADER_NAME },
          additionalProperties: {
            anyOf: [
              { type: 'string', maxLength: 8192, pattern: '^[^\\r\\n]*$' },
              {
                type: 'object',
                additionalProperties: false,
                required: ['secret'],
                properties: { secret: { type: 'string', pattern: '^[A-Za-z0-9_]{1,64}$' } },
              },
            ],
          },
        },
      },
    },
  },
} as const;

// Compiled on first use, not at import: Ajv's code generation costs tens of milliseconds, and
// start-up (DESIGN.md §5) must not pay for a feature a deployment may never use.
let declarationValidator: ValidateFunction | undefined;
function validateDeclaration(input: unknown): ValidateFunction {
  declarationValidator ??= new Ajv2020({ strict: true, allErrors: true }).compile(
    DECLARATION_SCHEMA,
  );
  declarationValidator(input);
  return declarationValidator;
}

const PLACEHOLDER = /\{([^{}]*)\}/g;

/**
 * Checks a declaration's shape and meaning, or throws TOOL_INVALID with every problem in
 * `details` (fields as JSON pointers under `prefix`, e.g. `/http/3` in the tools file). Nothing
 * outside the declaration is consulted: the egress rules and secrets are createHttpTool's.
 */
export function parseHttpToolDeclaration(input: unknown, prefix = ''): HttpToolDeclaration {
  const checked = validateDeclaration(input);
  if (checked.errors) {
    throw invalid(input, ajvDetails(checked.errors, prefix));
  }
  const declaration = input as HttpToolDeclaration;
  const problems: ErrorDetail[] = [];
  const bad = (field: string, message: string) =>
    problems.push({ field: `${prefix}${field}`, message });
  const { parameters } = declaration;
  if (parameters.type !== 'object') bad('/parameters', "must have type: 'object'");
  const properties = isObject(parameters.properties) ? parameters.properties : {};
  const required = Array.isArray(parameters.required) ? parameters.required : [];
  const template = declaration.http.url;
  const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(template)?.[0] ?? '';
  if (origin.includes('{') || origin.includes('}')) {
    // A parameter in the host would let the model pick where the request goes.
    bad('/http/url', 'placeholders may only appear in the path and query, not the host');
  }
  for (const [, param] of template.matchAll(PLACEHOLDER)) {
    if (param === undefined || !/^[a-zA-Z0-9_]+$/.test(param)) {
      bad('/http/url', `{${param ?? ''}} is not a parameter name`);
    } else if (!(param in properties) || !required.includes(param)) {
      bad('/http/url', `{${param}} must be a required property of parameters`);
    }
  }
  let url: URL | undefined;
  try {
    url = new URL(template.replace(PLACEHOLDER, 'x'));
  } catch {
    bad('/http/url', 'must be an absolute URL');
  }
  if (url && url.protocol !== 'https:' && url.protocol !== 'http:') {
    bad('/http/url', 'must be an http or https URL');
  }
  if (url && (url.username !== '' || url.password !== '')) {
    bad('/http/url', 'must not carry credentials; use a header with a secret');
  }
  for (const name of Object.keys(declaration.http.headers ?? {})) {
    if (RESERVED_HEADERS.has(name.toLowerCase())) bad(`/http/headers/${name}`, 'is set by Keel');
  }
  if (problems.length > 0) throw invalid(input, problems);
  return declaration;
}

/**
 * An HTTP tool from a declaration. Throws TOOL_INVALID for a bad declaration, a host the egress
 * rules refuse (allow-list, or an IP literal in a forbidden range) or a secret that is not set.
 * The same rules are checked again on every call, on the resolved addresses and each redirect.
 */
export function createHttpTool(input: unknown, context: HttpToolContext, prefix = ''): HttpTool {
  const declaration = parseHttpToolDeclaration(input, prefix);
  const defaults = context.defaults ?? DEFAULT_TOOL_LIMITS;
  const problems: ErrorDetail[] = [];
  const target = new URL(declaration.http.url.replace(PLACEHOLDER, 'x'));
  try {
    context.egress.checkUrl(target);
  } catch (error) {
    problems.push({ field: `${prefix}/http/url`, message: (error as Error).message });
  }
  for (const [name, value] of Object.entries(declaration.http.headers ?? {})) {
    if (typeof value !== 'string' && context.secrets(value.secret) === undefined) {
      problems.push({
        field: `${prefix}/http/headers/${name}`,
        message: `secret ${value.secret} is not set (${SECRET_ENV_PREFIX}${value.secret})`,
      });
    }
  }
  if (problems.length > 0) throw invalid(declaration, problems);

  const { method } = declaration.http;
  return {
    name: declaration.name,
    description: declaration.description,
    source: 'http',
    parameters: declaration.parameters,
    ...(declaration.result !== undefined ? { result: declaration.result } : {}),
    idempotent: declaration.idempotent ?? method === 'GET',
    timeoutMs: declaration.timeoutMs ?? defaults.timeoutMs,
    maxConcurrency: declaration.maxConcurrency ?? defaults.maxConcurrency,
    maxResultBytes: declaration.maxResultBytes ?? defaults.maxResultBytes,
    declaration: structuredClone(declaration),
    invoke: (args, invocation) => callHttpTool(declaration, context, args, invocation),
  };
}

async function callHttpTool(
  declaration: HttpToolDeclaration,
  context: HttpToolContext,
  args: unknown,
  invocation: ToolInvocation,
): Promise<unknown> {
  const { name } = declaration;
  const rest: Record<string, unknown> = { ...(isObject(args) ? args : {}) };
  const expanded = declaration.http.url.replace(PLACEHOLDER, (_, param: string) => {
    const value = rest[param];
    delete rest[param];
    return encodeURIComponent(typeof value === 'string' ? value : JSON.stringify(value));
  });
  const url = new URL(expanded);
  const { method } = declaration.http;
  let body: string | undefined;
  if (method === 'GET' || method === 'DELETE') {
    for (const [key, value] of Object.entries(rest)) {
      for (const item of Array.isArray(value) ? (value as unknown[]) : [value]) {
        if (item === undefined || item === null) continue;
        url.searchParams.append(key, typeof item === 'string' ? item : JSON.stringify(item));
      }
    }
  } else {
    body = JSON.stringify(rest);
  }
  const { headers, secrets, inline } = resolveHeaders(declaration, context.secrets);
  if (invocation.requestId) headers['x-request-id'] ??= invocation.requestId;
  const response = await context.http.request({
    method,
    url,
    headers,
    body,
    signal: invocation.signal,
    // The serialized result is checked again by the dispatcher; the raw body is the earlier bound.
    maxBytes:
      declaration.maxResultBytes ??
      context.defaults?.maxResultBytes ??
      DEFAULT_TOOL_LIMITS.maxResultBytes,
    secrets: [...secrets, ...inline],
    tool: name,
  });
  // A server that echoes what it got (a debug endpoint, a proxy's error page) must not put the
  // credential into the run's steps and the model's prompt: secret values, raw and as they look
  // inside a JSON string, become [redacted] before the body is read. Plain header values are
  // scrubbed from error messages only: in a result, `application/vnd.api+json` is data.
  const text = scrub(response.body.toString('utf8'), withJsonForms(secrets));
  if (response.status < 200 || response.status >= 300) {
    throw new ToolError(
      'TOOL_FAILED',
      `${name}: ${describe(response.url)} answered ${response.status}${quote(scrub(text, inline))}`,
      response.status >= 500 || response.status === 429,
    );
  }
  if (/[/+]json\b/i.test(response.contentType)) {
    if (text.trim() === '') return null;
    try {
      return JSON.parse(text) as unknown;
    } catch {
      throw new ToolError(
        'TOOL_FAILED',
        `${name}: ${describe(response.url)} answered invalid JSON`,
      );
    }
  }
  return text;
}

/** Plain header values at least this long are scrubbed from error messages like secrets. */
const MIN_SCRUBBED_CHARS = 12;

/** A value as it is written inside a JSON string (`"` and `\\` escaped), besides itself. */
function withJsonForms(values: readonly string[]): string[] {
  return values.flatMap((v) => {
    const escaped = JSON.stringify(v).slice(1, -1);
    return escaped === v ? [v] : [v, escaped];
  });
}

function resolveHeaders(
  declaration: HttpToolDeclaration,
  source: SecretSource,
): { headers: Record<string, string>; secrets: string[]; inline: string[] } {
  const headers: Record<string, string> = {};
  const secrets: string[] = [];
  const inline: string[] = [];
  for (const [name, value] of Object.entries(declaration.http.headers ?? {})) {
    if (typeof value === 'string') {
      headers[name.toLowerCase()] = value;
      // A plain value may be a credential written inline; an error body that echoes it would
      // reach the run's steps. Short ones (`1`, `no-cache`) are not, and scrubbing them would
      // garble the message.
      if (value.length >= MIN_SCRUBBED_CHARS) inline.push(value);
      continue;
    }
    const secret = source(value.secret);
    if (secret === undefined) {
      throw new ToolError(
        'TOOL_FAILED',
        `${declaration.name}: secret ${value.secret} is no longer set (${SECRET_ENV_PREFIX}${value.secret})`,
      );
    }
    headers[name.toLowerCase()] = secret;
    secrets.push(secret);
    // `Bearer <token>` is how most secrets travel; scrub the bare token as well as the header.
    const bare = /^\S+\s+(\S+)$/.exec(secret)?.[1];
    if (bare) secrets.push(bare);
  }
  return { headers, secrets, inline };
}

const QUOTE_CHARS = 200;

/** A short, one-line piece of an error body: the server's reason, without flooding the model. */
function quote(text: string): string {
  const compact = text.replace(/\s+/g, ' ').trim();
  if (compact === '') return '';
  return `: ${compact.length > QUOTE_CHARS ? `${compact.slice(0, QUOTE_CHARS)}…` : compact}`;
}

function invalid(input: unknown, details: ErrorDetail[]): KeelError {
  const name = isObject(input) && typeof input.name === 'string' ? input.name : '(unnamed)';
  return new KeelError('TOOL_INVALID', `the HTTP tool declaration ${name} is invalid`, details);
}
