import type {
  ErrorResponseDto,
  QueryRequestDto,
  QueryResponseDto,
  RetrieveRequestDto,
  RetrieveResponseDto,
} from '@keel/contracts';
import { uniformFloat64 } from 'pure-rand/distribution/uniformFloat64';
import { mersenne } from 'pure-rand/generator/mersenne';
import type { Planned, SendResult } from './engine.js';

export const ENDPOINTS = ['retrieve', 'query'] as const;
export type Endpoint = (typeof ENDPOINTS)[number];

const PATHS: Record<Endpoint, string> = { retrieve: '/v1/retrieve', query: '/v1/query' };

/** Share of requests per endpoint, summing to 1. */
export type Mix = Partial<Record<Endpoint, number>>;

/** Parses `retrieve=0.7,query=0.3` (weights, normalised to shares). */
export function parseMix(spec: string): Mix {
  const weights: Mix = {};
  for (const part of spec.split(',').map((p) => p.trim())) {
    if (part === '') continue;
    const [name, w, ...rest] = part.split('=');
    const weight = Number(w);
    if (!(ENDPOINTS as readonly string[]).includes(name) || rest.length > 0) {
      throw new Error(`--mix: unknown endpoint ${JSON.stringify(name)} (${ENDPOINTS.join(', ')})`);
    }
    if (w === undefined || !Number.isFinite(weight) || weight < 0) {
      throw new Error(`--mix: ${JSON.stringify(part)} needs a weight ≥ 0, e.g. retrieve=0.7`);
    }
    if (weights[name as Endpoint] !== undefined) throw new Error(`--mix names ${name} twice`);
    weights[name as Endpoint] = weight;
  }
  const total = Object.values(weights).reduce((a, b) => a + b, 0);
  if (total <= 0) throw new Error('--mix: the weights add up to 0');
  const mix: Mix = {};
  for (const e of ENDPOINTS) {
    if (weights[e] !== undefined && weights[e] > 0) mix[e] = weights[e] / total;
  }
  return mix;
}

export interface KeelTargetOptions {
  url: string;
  collection: string;
  queries: readonly string[];
  mix: Mix;
  seed: number;
  /** topK of each request; the server's defaults when unset. */
  topK?: number;
}

/** The typed bodies the generator sends: a changed DTO breaks this build. */
export function requestBody(
  endpoint: Endpoint,
  collection: string,
  query: string,
  topK?: number,
): RetrieveRequestDto | QueryRequestDto {
  const base = { collection, query, ...(topK !== undefined ? { topK } : {}) };
  if (endpoint === 'retrieve') return base satisfies RetrieveRequestDto;
  return base satisfies QueryRequestDto;
}

/**
 * Whether a 2xx body has the shape its DTO promises. Only a few fields are read, but they are
 * read through the DTO types, so renaming one breaks the build of the load generator too.
 */
export function validResponse(endpoint: Endpoint, body: unknown): boolean {
  if (body === null || typeof body !== 'object') return false;
  if (endpoint === 'retrieve') {
    const r = body as RetrieveResponseDto;
    return (
      Array.isArray(r.hits) && typeof r.degraded === 'boolean' && typeof r.timings === 'object'
    );
  }
  const q = body as QueryResponseDto;
  return (
    typeof q.answer === 'string' &&
    Array.isArray(q.citations) &&
    Array.isArray(q.contexts) &&
    typeof q.usage?.promptTokens === 'number'
  );
}

/** The Keel error `code` of an error body, if it has one. */
export function errorCode(text: string): string | null {
  try {
    const body = JSON.parse(text) as Partial<ErrorResponseDto> | null;
    return typeof body?.code === 'string' ? body.code : null;
  } catch {
    return null;
  }
}

export async function sendJson(
  url: string,
  endpoint: Endpoint,
  body: RetrieveRequestDto | QueryRequestDto,
  signal: AbortSignal,
): Promise<SendResult> {
  try {
    const res = await fetch(new URL(PATHS[endpoint], url), {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(body),
      signal,
    });
    const text = await res.text();
    if (!res.ok) return { ok: false, status: res.status, code: errorCode(text) };
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return validResponse(endpoint, parsed)
      ? { ok: true, status: res.status }
      : { ok: false, status: res.status, code: 'BAD_RESPONSE' };
  } catch (error) {
    const name = error instanceof Error ? error.name : '';
    return {
      ok: false,
      status: name === 'TimeoutError' || name === 'AbortError' ? 'timeout' : 'network',
      code: null,
    };
  }
}

/**
 * The request mix: each request's endpoint drawn by the mix's shares and its query drawn from the
 * set, both from one seeded generator, so two runs with the same seed send the same sequence.
 */
export function keelRequests(options: KeelTargetOptions): () => Planned {
  if (options.queries.length === 0) throw new Error('no queries to send');
  const rng = mersenne(options.seed);
  const shares = ENDPOINTS.filter((e) => (options.mix[e] ?? 0) > 0).map(
    (e) => [e, options.mix[e] ?? 0] as const,
  );
  if (shares.length === 0) throw new Error('the mix sends nothing');
  return () => {
    let u = uniformFloat64(rng);
    let endpoint: Endpoint = shares[shares.length - 1][0];
    for (const [e, share] of shares) {
      if (u < share) {
        endpoint = e;
        break;
      }
      u -= share;
    }
    const query = options.queries[Math.floor(uniformFloat64(rng) * options.queries.length)];
    const body = requestBody(endpoint, options.collection, query, options.topK);
    return { endpoint, send: (signal) => sendJson(options.url, endpoint, body, signal) };
  };
}
