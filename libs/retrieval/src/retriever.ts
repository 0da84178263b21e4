/**
 * Retrieval across legs: BM25, dense (embed the query, then nearest chunks), or both fused. The
 * legs run in parallel, each under its own deadline cut from the request's; a leg that fails or
 * runs out of time is aborted and reported, and the answer comes from the others (`degraded`).
 * Nest-free and backend-free: the API gives it legs that run as jobs or call OpenSearch, an
 * evaluation inside a worker thread gives it legs that call the processors directly.
 */
import {
  KeelError,
  toKeelError,
  type CorpusStats,
  type Metadata,
  type SearchHit,
  type SearchResult,
  type SerializedError,
} from '@keel/contracts/jobs';
import { DEFAULT_RRF_K, fuse, type FusionMethod } from './fusion.js';

export type RetrievalMode = 'bm25' | 'dense' | 'hybrid';
export type LegName = 'bm25' | 'dense';

export interface LegRequest {
  query: string;
  topK: number;
  group: 'chunk' | 'document';
  filter?: Metadata;
  /** Epoch ms: the leg's own deadline. */
  deadline: number;
  signal: AbortSignal;
}

/** How the legs reach their backend. */
export interface RetrievalLegs {
  bm25(request: LegRequest & { withStats: boolean }): Promise<SearchResult>;
  /** Absent: this deployment or collection has no vectors (dense and hybrid answer 400). */
  dense?(request: LegRequest): Promise<SearchResult>;
}

export interface FusionSettings {
  method: FusionMethod;
  /** RRF's k (default 60). */
  k?: number;
  /** Per-leg weights (default 1 each; for `convex`, e.g. { bm25: 0.3, dense: 0.7 }). */
  weights?: Partial<Record<LegName, number>>;
}

export interface RetrieveSpec {
  query: string;
  topK: number;
  mode: RetrievalMode;
  group: 'chunk' | 'document';
  filter?: Metadata;
  fusion?: FusionSettings;
  withStats?: boolean;
  /** Epoch ms: the request's deadline. */
  deadline: number;
  signal?: AbortSignal;
}

export interface LegReport {
  status: 'ok' | 'failed' | 'timeout';
  ms: number;
  /** Hits the leg returned. */
  hits: number;
  /** Of the returned hits, how many this leg ranked. */
  contributed: number;
  error?: SerializedError;
}

export interface RetrievedHit extends SearchHit {
  /** Per leg that returned the hit: its rank and its own score. */
  legs: Partial<Record<LegName, { rank: number; score: number }>>;
}

export interface Retrieval {
  hits: RetrievedHit[];
  legs: Partial<Record<LegName, LegReport>>;
  degraded: boolean;
  failedLegs: LegName[];
  stats?: CorpusStats;
  terms: string[];
}

/**
 * Share of the request's remaining time a leg may use: the rest is kept for reranking, packing
 * and the answer, so a slow leg degrades the answer instead of timing out the whole request.
 */
export const LEG_DEADLINE_SHARE = 0.8;

/**
 * Candidates each leg fetches for a fused list of topK: at least 50, so that fusion has a choice
 * when topK is small; at topK ≥ 50, the same depth a leg alone would fetch.
 */
export function legDepth(topK: number, mode: RetrievalMode): number {
  return mode === 'hybrid' ? Math.max(topK, 50) : topK;
}

interface Settled {
  name: LegName;
  result?: SearchResult;
  error?: KeelError;
  timedOut: boolean;
  ms: number;
}

async function runLeg(
  name: LegName,
  run: (signal: AbortSignal, deadline: number) => Promise<SearchResult>,
  spec: RetrieveSpec,
  deadline: number,
): Promise<Settled> {
  const started = performance.now();
  const timeout = AbortSignal.timeout(Math.max(0, deadline - Date.now()));
  const signal = spec.signal ? AbortSignal.any([spec.signal, timeout]) : timeout;
  let onAbort: (() => void) | undefined;
  const expired = new Promise<never>((_, reject) => {
    onAbort = () =>
      reject(
        timeout.aborted
          ? new KeelError('DEADLINE_EXCEEDED', `the ${name} leg ran out of time`)
          : new KeelError('CANCELLED', 'the request was cancelled'),
      );
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    // The leg sees the signal (and stops its job or HTTP call); the race makes sure its result
    // is not waited for past the deadline even if it ignores the signal.
    const result = await Promise.race([run(signal, deadline), expired]);
    return { name, result, timedOut: false, ms: performance.now() - started };
  } catch (error) {
    const keel =
      toKeelError(error) ??
      new KeelError('BACKEND_UNAVAILABLE', error instanceof Error ? error.message : String(error));
    return {
      name,
      error: keel,
      // Whichever timer fired: the leg's, or the callee's own for the same deadline (an HTTP
      // client's), which can come a millisecond sooner and answer first.
      timedOut: keel.code === 'DEADLINE_EXCEEDED',
      ms: performance.now() - started,
    };
  } finally {
    // Node keeps a timeout or composite signal that has an abort listener alive until its timer
    // fires: left attached, the listener (and through the race, the leg's whole result) would
    // stay in memory for the rest of the deadline after the request answered.
    signal.removeEventListener('abort', onAbort!);
  }
}

function requireDense(legs: RetrievalLegs, mode: RetrievalMode): void {
  if (mode !== 'bm25' && !legs.dense) {
    throw new KeelError(
      'DENSE_UNAVAILABLE',
      `mode '${mode}' needs vectors: configure EMBEDDINGS_URL and create the collection with it; use mode 'bm25'`,
    );
  }
}

/** The error of a request all of whose legs failed. */
function allFailed(settled: Settled[], spec: RetrieveSpec): KeelError {
  const errors = settled.map((s) => s.error!);
  if (spec.signal?.aborted) {
    const reason: unknown = spec.signal.reason;
    return reason instanceof DOMException && reason.name === 'TimeoutError'
      ? new KeelError('DEADLINE_EXCEEDED', 'the deadline passed during retrieval')
      : new KeelError('CANCELLED', 'the request was cancelled');
  }
  // One leg, or every leg failing alike (e.g. 429 from a full pool): that error as it is.
  if (errors.every((e) => e.code === errors[0].code)) return errors[0];
  return new KeelError(
    'BACKEND_UNAVAILABLE',
    `every retrieval leg failed: ${settled.map((s) => `${s.name}: ${s.error!.code}`).join(', ')}`,
    settled.map((s) => ({ field: s.name, message: `${s.error!.code}: ${s.error!.message}` })),
  );
}

export async function retrieve(legs: RetrievalLegs, spec: RetrieveSpec): Promise<Retrieval> {
  requireDense(legs, spec.mode);
  const remaining = spec.deadline - Date.now();
  if (remaining <= 0)
    throw new KeelError('DEADLINE_EXCEEDED', 'the deadline passed before retrieval');
  const legDeadline = Date.now() + Math.floor(remaining * LEG_DEADLINE_SHARE);
  const depth = legDepth(spec.topK, spec.mode);
  const base = {
    query: spec.query,
    topK: depth,
    group: spec.group,
    ...(spec.filter ? { filter: spec.filter } : {}),
  };
  const running: Array<Promise<Settled>> = [];
  if (spec.mode !== 'dense') {
    running.push(
      runLeg(
        'bm25',
        (signal, deadline) =>
          legs.bm25({ ...base, signal, deadline, withStats: spec.withStats ?? false }),
        spec,
        legDeadline,
      ),
    );
  }
  if (spec.mode !== 'bm25') {
    running.push(
      runLeg(
        'dense',
        (signal, deadline) => legs.dense!({ ...base, signal, deadline }),
        spec,
        legDeadline,
      ),
    );
  }
  const settled = await Promise.all(running);
  const ok = settled.filter((s) => s.result);
  if (ok.length === 0) throw allFailed(settled, spec);

  let hits: RetrievedHit[];
  if (settled.length === 1) {
    hits = ok[0].result!.hits.map((h) => ({
      ...h,
      legs: { [ok[0].name]: { rank: h.rank, score: h.score } },
    }));
  } else {
    const fusion = spec.fusion ?? { method: 'rrf' };
    const fused = fuse(
      ok.map((s) => ({
        name: s.name,
        hits: s.result!.hits,
        ...(fusion.weights?.[s.name] !== undefined ? { weight: fusion.weights[s.name] } : {}),
      })),
      { method: fusion.method, k: fusion.k ?? DEFAULT_RRF_K, topK: spec.topK },
    );
    hits = fused.map((f, i) => ({ ...f.hit, score: f.score, rank: i + 1, legs: f.legs }));
  }
  const reports: Partial<Record<LegName, LegReport>> = {};
  for (const s of settled) {
    reports[s.name] = {
      status: s.result ? 'ok' : s.timedOut ? 'timeout' : 'failed',
      ms: Math.round(s.ms * 1000) / 1000,
      hits: s.result?.hits.length ?? 0,
      contributed: hits.filter((h) => h.legs[s.name] !== undefined).length,
      ...(s.error ? { error: s.error.toJSON() } : {}),
    };
  }
  const failedLegs = settled.filter((s) => !s.result).map((s) => s.name);
  const bm25 = settled.find((s) => s.name === 'bm25')?.result;
  return {
    hits,
    legs: reports,
    degraded: failedLegs.length > 0,
    failedLegs,
    ...(bm25?.stats ? { stats: bm25.stats } : {}),
    terms: bm25?.terms ?? [],
  };
}
