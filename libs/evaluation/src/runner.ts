import {
  KeelError,
  type EvaluationAnswerItem,
  type EvaluationPayload,
  type EvaluationReport,
  type PerQueryResult,
} from '@keel/contracts/jobs';
import { packAnswer, rankPassages, type PipelineSteps } from '@keel/pipeline/core';
import { scoreAnswer } from './answers.js';
import { DatasetError, loadAnswerDataset, loadRetrievalDataset } from './datasets.js';
import { parseMetric, scoreQuery } from './metrics.js';
import type { Qrels, ScoredDoc } from './types.js';

/** Everything a run needs besides its payload; the eval processor provides it. */
export interface RunContext {
  id: string;
  steps: PipelineSteps;
  signal: AbortSignal;
  progress(fraction: number): void;
}

type ResolvedDataset =
  | {
      kind: 'retrieval';
      name: string;
      split: string;
      queries: Array<{ id: string; text: string }>;
      qrels: Qrels;
    }
  | { kind: 'answers'; name: string; items: EvaluationAnswerItem[] };

/** Uploaded datasets come in the payload; named ones are read (and validated) here, in the job. */
async function resolveDataset(spec: EvaluationPayload['dataset']): Promise<ResolvedDataset> {
  try {
    switch (spec.kind) {
      case 'retrieval':
        return {
          ...spec,
          qrels: new Map(
            Object.entries(spec.qrels).map(([qid, docs]) => [qid, new Map(Object.entries(docs))]),
          ),
        };
      case 'answers':
        return spec;
      case 'beir-dir': {
        const loaded = await loadRetrievalDataset(spec.path, spec.split);
        return { ...loaded, name: spec.name };
      }
      case 'answers-file': {
        const loaded = await loadAnswerDataset(spec.path);
        return { ...loaded, name: spec.name };
      }
    }
  } catch (error) {
    if (error instanceof DatasetError) throw new KeelError('DATASET_INVALID', error.message);
    throw error;
  }
}

/** The citation markers an extractive answer carries ("… sentence. [2]") are not answer text. */
function answerText(answer: string): string {
  return answer.replace(/\s*\[\d+\]/gu, '').trim();
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

/**
 * Runs every query of a dataset through the configured pipeline (the same `rankPassages` /
 * `packAnswer` code /v1/query runs) and scores it. Retrieval datasets rank documents (each by
 * its best chunk) and score them against the qrels; answer datasets go on to pack and answer and
 * score the answer and its evidence. Throws on cancellation: a partial run is never a report.
 */
export async function runEvaluation(
  payload: EvaluationPayload,
  context: RunContext,
): Promise<EvaluationReport> {
  const createdAt = new Date().toISOString();
  const started = performance.now();
  const dataset = await resolveDataset(payload.dataset);
  const { config } = payload;
  const total = dataset.kind === 'retrieval' ? dataset.queries.length : dataset.items.length;
  const perQuery: PerQueryResult[] = [];
  const depth =
    dataset.kind === 'retrieval' ? Math.max(...config.metrics.map((m) => parseMetric(m).k)) : 0;
  const durations: number[] = [];

  for (let i = 0; i < total; i++) {
    if (context.signal.aborted) throw new KeelError('CANCELLED', 'the evaluation was cancelled');
    // Let cancellation and progress messages in: the steps below may complete without a turn
    // of the event loop.
    if (i % 8 === 0) await new Promise((resolve) => setImmediate(resolve));
    const queryStarted = performance.now();
    const question = dataset.kind === 'retrieval' ? dataset.queries[i] : dataset.items[i];
    const text = 'text' in question ? question.text : question.question;
    const keep = dataset.kind === 'retrieval' ? config.topK : config.contextTopK;
    const { ranked, hits } = await rankPassages(context.steps, {
      mode: config.mode,
      query: text,
      topK: config.topK,
      group: 'document',
      rerank: config.rerank,
      ...(config.rerankWeights ? { rerankWeights: config.rerankWeights } : {}),
      ...(config.mmrLambda !== undefined ? { mmrLambda: config.mmrLambda } : {}),
      keep,
    });
    const retrieved = ranked.map(({ hit }) => hit.documentId);

    if (dataset.kind === 'retrieval') {
      // Keel's order is the ranking (an MMR score need not decrease with rank): scores that
      // follow the order make trec_eval semantics rank exactly what Keel returned.
      const docs: ScoredDoc[] = retrieved.map((id, rank) => ({
        id,
        score: retrieved.length - rank,
      }));
      perQuery.push({
        id: question.id,
        query: text,
        metrics: scoreQuery(docs, dataset.qrels.get(question.id) ?? new Map(), config.metrics),
        // Down to the deepest cutoff measured, so every value can be checked from the report.
        retrieved: retrieved.slice(0, depth),
      });
    } else {
      const item = question as EvaluationAnswerItem;
      const packed = await packAnswer(context.steps, {
        query: text,
        ranked,
        budgetTokens: config.budgetTokens,
        encoding: config.encoding,
      });
      const contexts = packed.included.map((p) => ({
        id: p.id,
        documentId: hits.get(p.id)?.documentId,
        text: p.text,
      }));
      const byMarker = new Map(packed.included.map((p, k) => [p.marker, contexts[k]]));
      const answer = packed.answer ?? { text: '', citations: [] };
      const cited = answer.citations.flatMap((c) => byMarker.get(c.marker) ?? []);
      perQuery.push({
        id: item.id,
        query: text,
        metrics: scoreAnswer({
          answer: answerText(answer.text),
          contexts,
          cited,
          gold: {
            answers: item.answers,
            ...(item.contexts ? { contexts: item.contexts } : {}),
            ...(item.docIds ? { docIds: item.docIds } : {}),
          },
        }),
        retrieved: [...new Set(cited.map((c) => c.documentId ?? c.id))],
        answer: answer.text,
      });
    }
    durations.push(performance.now() - queryStarted);
    context.progress((i + 1) / total);
  }

  const metrics =
    dataset.kind === 'retrieval' ? config.metrics : Object.keys(perQuery[0]?.metrics ?? {});
  const aggregate: Record<string, number> = {};
  for (const metric of metrics) {
    let sum = 0;
    for (const q of perQuery) sum += q.metrics[metric] ?? 0;
    aggregate[metric] = perQuery.length > 0 ? sum / perQuery.length : 0;
  }
  durations.sort((a, b) => a - b);
  return {
    id: context.id,
    label: payload.label,
    collection: payload.collection.name,
    dataset: {
      kind: dataset.kind,
      name: dataset.name,
      ...(dataset.kind === 'retrieval' ? { split: dataset.split } : {}),
      queries: total,
    },
    config,
    metrics,
    aggregate,
    perQuery,
    timings: {
      totalMs: Math.round(performance.now() - started),
      queryP50Ms: round3(percentile(durations, 0.5)),
      queryP95Ms: round3(percentile(durations, 0.95)),
    },
    createdAt,
    finishedAt: new Date().toISOString(),
    keelVersion: payload.keelVersion,
  };
}

function round3(ms: number): number {
  return Math.round(ms * 1000) / 1000;
}
