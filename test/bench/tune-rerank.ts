/**
 * Tunes the first stage's FTS5 title weight and the `keel` rerank combination on BEIR SciFact TRAIN
 * (809 claims), then reports train and test side by side; test never chooses anything.
 *
 *   npm run build && node dist/test/bench/tune-rerank.js    (SCIFACT_DIR overrides the data path,
 *                                                            default ../shared/data/scifact)
 *
 * 1. title weight of `bm25(fts, w, 1.0)` over the corpus indexed with @keel/text;
 * 2. the lexical part of `keel` (weights of bm25 / proximity / title / coverage, BM25 k1 and b, the
 *    proximity window) by coordinate ascent on the top 100 with first-stage scores withheld and the
 *    order shuffled, then an ablation that drops what train barely notices;
 * 3. α, the weight of that lexical part next to the first-stage score, with a repeated 2-fold
 *    cross-validation inside train as the overfitting check;
 * 4. γ, the weight of `feedback` (each candidate's similarity to the best one by 1–3), with the same
 *    cross-validation check;
 * 5. the MMR λ.
 * Then nDCG@10 / Recall@100 for BM25 (title weight 1), BM25 (tuned), BM25 + rerank(keel) as tuned
 * and as baked into `@keel/reranking`'s defaults (they must agree: bake the printed values), paired
 * comparisons (randomization test and t-test, as `keel eval compare`), and the cost of one
 * `rerank()` call on 100 candidates. Writes docs/benchmarks/rerank.md. About 3 minutes on 2 cores.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { format, resolveConfig } from 'prettier';
import { pairedRandomization, pairedTTest } from '@keel/evaluation';
import { BM25_TITLE_WEIGHT as DEFAULT_TITLE_WEIGHT } from '@keel/retrieval/processors';
import { analyze, queryTerms } from '@keel/text';
import {
  analyzeCandidate,
  candidateFeatures,
  DEFAULT_BM25_PARAMS,
  DEFAULT_MMR_LAMBDA,
  DEFAULT_PROXIMITY_PARAMS,
  DEFAULT_RERANK_WEIGHTS,
  feedbackScores,
  minMax,
  RERANK_FEATURES,
  RERANK_METHODS,
  rerank,
  rerankAnalyzed,
  type AnalyzedCandidate,
  type Bm25Params,
  type CorpusStats,
  type FeatureVector,
  type ProximityParams,
  type RerankCandidate,
  type RerankFeature,
  type RerankMethod,
  type RerankWeights,
  queryContext,
} from '@keel/reranking';
import { machine, repoRoot } from './common.js';

const DEPTH = 100;
const TITLE_WEIGHTS = [0.5, 1, 1.5, 2, 2.5, 3, 4, 5];
const WEIGHT_GRID = [0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5, 2, 3];
const ALPHA_GRID = [0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2, 3];
const CV_REPEATS = 10;
const K1_GRID = [0.5, 0.9, 1.2, 1.5, 2];
const B_GRID = [0.3, 0.5, 0.75, 0.9];
const WINDOW_GRID = [5, 10, 15, 20, 30, 40, 50, 64];
const LAMBDA_GRID = [1, 0.95, 0.9, 0.85, 0.8];
const FEEDBACK_GRID = [0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1, 1.5];
/** A coordinate step must gain at least this much train nDCG@10 to be taken (noise guard). */
const MIN_GAIN = 2e-4;
/** A feature whose removal costs less train nDCG@10 than this is dropped (fewer is sturdier). */
const ABLATION_TOLERANCE = 1e-3;
/**
 * An MMR pass must gain as much as a feature must contribute to be kept: it changes what the scores
 * mean (marginal values that need not fall with rank) and costs a cosine per pair it compares.
 */
const MMR_MIN_GAIN = ABLATION_TOLERANCE;

interface Doc {
  id: string;
  title: string;
  text: string;
}
type Qrels = Map<string, Map<string, number>>;
interface Query {
  id: string;
  text: string;
  terms: string[];
  relevant: Map<string, number>;
}
interface Hit {
  doc: number;
  score: number;
}
interface Prepared {
  query: Query;
  hits: Hit[];
  analyzed: AnalyzedCandidate[];
  candidates: RerankCandidate[];
}
interface Params {
  bm25: Bm25Params;
  proximity: ProximityParams;
}
/** Per query, each feature's min-max normalized column over its candidates. */
type Columns = Record<RerankFeature, Float64Array>[];

async function main(): Promise<void> {
  const dir = path.resolve(repoRoot(), process.env.SCIFACT_DIR ?? '../shared/data/scifact');
  const started = performance.now();
  const docs = readJsonl(path.join(dir, 'corpus.jsonl')).map((d): Doc => ({
    id: str(d._id),
    title: str(d.title),
    text: str(d.text),
  }));
  const queryText = new Map(
    readJsonl(path.join(dir, 'queries.jsonl')).map((q) => [str(q._id), str(q.text)]),
  );
  const splits = {
    train: queries(readQrels(path.join(dir, 'qrels/train.tsv')), queryText),
    test: queries(readQrels(path.join(dir, 'qrels/test.tsv')), queryText),
  };
  log(
    `SciFact from ${dir}: ${docs.length} docs, ${splits.train.length} train / ${splits.test.length} test queries`,
  );

  const analyzed = docs.map((d) => analyzeCandidate(d));
  const stats = corpusStats(analyzed);
  const search = ftsIndex(docs);
  log(`indexed and analyzed in ${ms(performance.now() - started)}`);

  // 1. First stage: the FTS5 title weight, on train.
  const firstStage = (split: Query[], titleWeight: number): Hit[][] =>
    split.map((q) => search(q.terms, titleWeight));
  let bestTitleWeight = 1;
  let bestTitleScore = -1;
  for (const weight of TITLE_WEIGHTS) {
    const score = meanNdcg(splits.train, firstStage(splits.train, weight), docs);
    log(`  title weight ${weight}: train nDCG@10 ${score.toFixed(4)}`);
    if (score > bestTitleScore + MIN_GAIN) [bestTitleWeight, bestTitleScore] = [weight, score];
  }
  log(`tuned title weight ${bestTitleWeight} (baked default ${DEFAULT_TITLE_WEIGHT})`);

  const prepare = (split: Query[], titleWeight: number): Prepared[] =>
    split.map((query) => {
      const hits = search(query.terms, titleWeight).filter((h) => docs[h.doc].id !== query.id);
      return {
        query,
        hits,
        analyzed: hits.map((h) => analyzed[h.doc]),
        candidates: hits.map((h) => ({ ...docs[h.doc], score: h.score })),
      };
    });
  const train = prepare(splits.train, bestTitleWeight);
  const test = prepare(splits.test, bestTitleWeight);

  // 2. The lexical part of `keel`, on train candidates stripped of their first-stage score and
  //    shuffled: what /v1/rerank sees from a caller without scores, and the part that must stand
  //    on its own. Coordinate ascent over the feature weights and the scorers' parameters.
  const tuneStarted = performance.now();
  const unscoredTrain = train.map(unscored);
  const lexical = RERANK_FEATURES.filter((f) => f !== 'first' && f !== 'feedback');
  let params: Params = { bm25: { k1: 1.2, b: 0.75 }, proximity: { window: 15 } };
  let weights: RerankWeights = {
    first: 0,
    bm25: 1,
    proximity: 0,
    title: 0,
    coverage: 0,
    feedback: 0,
  };
  let columns = featureColumns(unscoredTrain, params, stats);
  let best = evaluate(unscoredTrain, columns, weights);
  log(`lexical tuning (unscored, shuffled candidates) starts at train nDCG@10 ${f4(best)} (bm25)`);
  const paramSteps: [number[], (p: Params, v: number) => Params][] = [
    [K1_GRID, (p, v) => ({ ...p, bm25: { ...p.bm25, k1: v } })],
    [B_GRID, (p, v) => ({ ...p, bm25: { ...p.bm25, b: v } })],
    [WINDOW_GRID, (p, v) => ({ ...p, proximity: { window: v } })],
  ];
  for (let round = 1; round <= 4; round++) {
    const before = best;
    for (const feature of lexical) {
      for (const value of WEIGHT_GRID) {
        const next = { ...weights, [feature]: value };
        const score = evaluate(unscoredTrain, columns, next);
        if (score > best + MIN_GAIN) [weights, best] = [next, score];
      }
    }
    for (const [grid, set] of paramSteps) {
      for (const value of grid) {
        const next = set(params, value);
        const nextColumns = featureColumns(unscoredTrain, next, stats);
        const score = evaluate(unscoredTrain, nextColumns, weights);
        if (score > best + MIN_GAIN) [params, columns, best] = [next, nextColumns, score];
      }
    }
    log(`  round ${round}: ${f4(best)} ${JSON.stringify({ weights, ...params })}`);
    if (best <= before + MIN_GAIN) break;
  }
  log('  ablation (train nDCG@10 without each feature; dropped when it costs < 0.001):');
  for (const feature of lexical) {
    if (weights[feature] === 0) continue;
    const without = { ...weights, [feature]: 0 };
    const score = evaluate(unscoredTrain, columns, without);
    const dropped = best - score < ABLATION_TOLERANCE && lexical.some((f) => without[f] > 0);
    log(`    -${feature}: ${f4(score)} (${signed(score - best)})${dropped ? ' dropped' : ''}`);
    if (dropped) [weights, best] = [without, score];
  }
  // Weights as shares of 1, rounded as they will be baked.
  const total = lexical.reduce((sum, f) => sum + weights[f], 0);
  const shares = { ...weights };
  for (const f of lexical) shares[f] = Math.round((1000 * weights[f]) / total) / 1000;

  // 3. How much the lexical part counts next to the first-stage score: keel = first + α · lexical.
  columns = featureColumns(train, params, stats);
  const scaled = (alpha: number): RerankWeights => {
    const out = { ...shares, first: 1 };
    for (const f of lexical) out[f] = Math.round(1000 * alpha * shares[f]) / 1000;
    return out;
  };
  const pickAlpha = (set: Prepared[], cols: Columns): number => {
    let [bestAlpha, bestScore] = [0, evaluate(set, cols, scaled(0))];
    for (const alpha of ALPHA_GRID) {
      const score = evaluate(set, cols, scaled(alpha));
      if (score > bestScore + MIN_GAIN) [bestAlpha, bestScore] = [alpha, score];
    }
    return bestAlpha;
  };
  const alpha = pickAlpha(train, columns);
  weights = scaled(alpha);
  best = evaluate(train, columns, weights);
  log(
    `α ${alpha}: train nDCG@10 ${f4(best)} (first stage alone ${f4(evaluate(train, columns, scaled(0)))})`,
  );
  // Overfitting check without test: pick α on one half of train, measure on the other half.
  const alphaGains = crossValidate(train, columns, (fit, fitCols, held, heldCols) => {
    const a = pickAlpha(fit, fitCols);
    return evaluate(held, heldCols, scaled(a)) - evaluate(held, heldCols, scaled(0));
  });
  const alphaCv = cvLine('the rerank over the first stage', alphaGains);
  log(`  ${alphaCv}`);

  // 4. Feedback: each candidate's similarity to the best one by the combination so far, a
  //    pseudo-relevance feedback from one document. Its column depends on the weights above (they
  //    choose the best candidate), so it is tuned after them, alone: keel = first + α · lexical +
  //    γ · feedback.
  const withFeedback = (gamma: number): RerankWeights => ({ ...weights, feedback: gamma });
  const feedbackCols = withFeedbackColumns(train, columns, weights);
  const pickGamma = (set: Prepared[], cols: Columns): number => {
    let [bestGamma, bestScore] = [0, evaluate(set, cols, withFeedback(0))];
    for (const gamma of FEEDBACK_GRID) {
      const score = evaluate(set, cols, withFeedback(gamma));
      if (score > bestScore + MIN_GAIN) [bestGamma, bestScore] = [gamma, score];
    }
    return bestGamma;
  };
  const withoutFeedbackScore = best;
  const gamma = pickGamma(train, feedbackCols);
  for (const value of [0, ...FEEDBACK_GRID]) {
    log(
      `  feedback γ ${value}: train nDCG@10 ${f4(evaluate(train, feedbackCols, withFeedback(value)))}`,
    );
  }
  weights = withFeedback(gamma);
  columns = feedbackCols;
  best = evaluate(train, columns, weights);
  log(`γ ${gamma}: train nDCG@10 ${f4(best)} (without feedback ${f4(withoutFeedbackScore)})`);
  const gammaGains = crossValidate(train, columns, (fit, fitCols, held, heldCols) => {
    const g = pickGamma(fit, fitCols);
    return evaluate(held, heldCols, withFeedback(g)) - evaluate(held, heldCols, withFeedback(0));
  });
  const gammaCv = cvLine('feedback over the rerank without it', gammaGains);
  log(`  ${gammaCv}`);

  // 5. MMR: SciFact's claims mostly have one relevant abstract, so diversity should not pay; check
  //    rather than assume, with the stricter guard.
  let lambda = 1;
  for (const value of LAMBDA_GRID) {
    const runs = train.map((p) =>
      rerankAnalyzed(p.query.terms, p.candidates, p.analyzed, {
        method: 'keel',
        topK: 10,
        stats,
        weights,
        mmrLambda: value,
        ...params,
      }).map((r) => ({ doc: docIndex(docs, r.id), score: r.score })),
    );
    const score = meanNdcg(splits.train, runs, docs);
    log(`  MMR λ ${value}: train nDCG@10 ${f4(score)}`);
    if (value < 1 && score > best + MMR_MIN_GAIN) [lambda, best] = [value, score];
  }
  log(
    `tuned in ${ms(performance.now() - tuneStarted)}: ` +
      JSON.stringify({ titleWeight: bestTitleWeight, weights, ...params, mmrLambda: lambda }),
  );

  // 6. Report: train and test side by side.
  const run = (set: Prepared[], options: RerankOverrides & { method?: RerankMethod }): Hit[][] =>
    set.map((p) =>
      rerankAnalyzed(p.query.terms, p.candidates, p.analyzed, {
        method: 'keel',
        topK: DEPTH,
        ...options,
      }).map((r) => ({ doc: docIndex(docs, r.id), score: r.score })),
    );
  const tuned: RerankOverrides = { stats, weights, mmrLambda: lambda, ...params };
  const tunedConfig = { titleWeight: bestTitleWeight, weights, ...params, mmrLambda: lambda };
  const bakedConfig = {
    titleWeight: DEFAULT_TITLE_WEIGHT,
    weights: DEFAULT_RERANK_WEIGHTS,
    bm25: DEFAULT_BM25_PARAMS,
    proximity: DEFAULT_PROXIMITY_PARAMS,
    mmrLambda: DEFAULT_MMR_LAMBDA,
  };
  const agree = JSON.stringify(tunedConfig) === JSON.stringify(bakedConfig);
  const [bakedTrain, bakedTest] =
    DEFAULT_TITLE_WEIGHT === bestTitleWeight
      ? [train, test]
      : [prepare(splits.train, DEFAULT_TITLE_WEIGHT), prepare(splits.test, DEFAULT_TITLE_WEIGHT)];
  const [unscoredBakedTrain, unscoredBakedTest] = [
    bakedTrain.map(unscored),
    bakedTest.map(unscored),
  ];
  const noFeedback = { ...DEFAULT_RERANK_WEIGHTS, feedback: 0 };
  const rows: [string, Hit[][], Hit[][]][] = [
    ['BM25 (title weight 1)', firstStage(splits.train, 1), firstStage(splits.test, 1)],
    [
      `BM25 (title weight ${bestTitleWeight}, tuned)`,
      train.map((p) => p.hits),
      test.map((p) => p.hits),
    ],
    ['BM25 + rerank(keel), as tuned above', run(train, tuned), run(test, tuned)],
    [
      `BM25 (title weight ${DEFAULT_TITLE_WEIGHT}) + rerank(keel), baked defaults`,
      run(bakedTrain, { stats }),
      run(bakedTest, { stats }),
    ],
    [
      '  same, feedback weight 0',
      run(bakedTrain, { stats, weights: noFeedback }),
      run(bakedTest, { stats, weights: noFeedback }),
    ],
    [
      '  rerank(keel) of the same candidates without scores',
      run(unscoredBakedTrain, { stats }),
      run(unscoredBakedTest, { stats }),
    ],
    [
      '  same, IDF from candidates (no stats)',
      run(unscoredBakedTrain, {}),
      run(unscoredBakedTest, {}),
    ],
  ];
  for (const method of RERANK_METHODS.filter((m) => m !== 'keel')) {
    rows.push([
      `  rerank(${method}) of the baked first stage`,
      run(bakedTrain, { stats, method }),
      run(bakedTest, { stats, method }),
    ]);
  }
  const table = [
    `| configuration | train nDCG@10 | train R@100 | test nDCG@10 | test R@100 |`,
    `|---|---|---|---|---|`,
  ];
  for (const [name, trainRuns, testRuns] of rows) {
    const cells = [
      meanNdcg(splits.train, trainRuns, docs),
      meanRecall(splits.train, trainRuns, docs),
      meanNdcg(splits.test, testRuns, docs),
      meanRecall(splits.test, testRuns, docs),
    ];
    table.push(`| ${name.replace(/^ {2}/, '· ')} | ${cells.map(f4).join(' | ')} |`);
  }
  log('');
  for (const line of table) log(line);
  log("(a rerank reorders the same 100 candidates: its Recall@100 is its first stage's)");
  log('');
  // Are the gains more than noise? Paired over queries, with the tests of `keel eval compare`:
  // the baked rerank against its own first stage (what `--rerank none` serves), against BM25 at
  // title weight 1, and against itself without feedback.
  const byName = new Map(rows.map(([name, a, b]) => [name.trim(), [a, b] as const]));
  const at = (name: string, split: 0 | 1): Hit[][] => byName.get(name)![split];
  const baked = `BM25 (title weight ${DEFAULT_TITLE_WEIGHT}) + rerank(keel), baked defaults`;
  const pairs: [string, string, string][] = [
    ['baked rerank(keel) vs its own first stage (BM25 as served)', `first stage`, baked],
    ['baked BM25 + rerank(keel) vs BM25 (title weight 1)', 'BM25 (title weight 1)', baked],
    ['baked rerank(keel) vs the same without feedback', 'same, feedback weight 0', baked],
  ];
  const comparisons = [
    `| comparison | split | Δ nDCG@10 | queries up / down | p (randomization) | p (t) |`,
    `|---|---|---|---|---|---|`,
  ];
  for (const [what, baseName, betterName] of pairs) {
    for (const [label, split, index, firstRuns] of [
      ['train', splits.train, 0, bakedTrain],
      ['test', splits.test, 1, bakedTest],
    ] as const) {
      const base = baseName === 'first stage' ? firstRuns.map((p) => p.hits) : at(baseName, index);
      const before = perQueryNdcg(split, base, docs);
      const after = perQueryNdcg(split, at(betterName, index), docs);
      const delta = after.map((v, i) => v - before[i]);
      const line =
        `| ${what} | ${label} | ${signed(mean(delta))} | ` +
        `${delta.filter((d) => d > 0).length} / ${delta.filter((d) => d < 0).length} | ` +
        `${pairedRandomization(before, after).pValue.toFixed(4)} | ${pairedTTest(before, after).pValue.toFixed(4)} |`;
      comparisons.push(line);
    }
  }
  for (const line of comparisons) log(line);
  log(
    `(randomization: ${10_000} sign flips, fixed seed; both two-sided, ${splits.train.length} train / ${splits.test.length} test queries)`,
  );
  log(`tuned:  ${JSON.stringify(tunedConfig)}`);
  log(
    `baked:  ${JSON.stringify(bakedConfig)}${agree ? '' : '  ← differs from the tuned values: bake them'}`,
  );

  // 7. Cost of one call as a worker pays it (analysis included), with the defaults and with the
  //    defaults less feedback. The variants are interleaved per query so that machine noise hits
  //    them alike, and their order rotates from query to query: a call right after another on the
  //    same candidates finds them in the CPU caches and would look cheaper.
  const variants: [string, (p: Prepared) => unknown][] = [
    [
      'rerank(keel), corpus stats',
      (p) => rerank(p.query.text, p.candidates, { method: 'keel', topK: 10, stats }),
    ],
    [
      '  same, feedback weight 0',
      (p) =>
        rerank(p.query.text, p.candidates, {
          method: 'keel',
          topK: 10,
          stats,
          weights: noFeedback,
        }),
    ],
    [
      'rerank(keel), IDF from candidates',
      (p) => rerank(p.query.text, p.candidates, { method: 'keel', topK: 10 }),
    ],
    [
      '  of which scoring (pre-analyzed candidates)',
      (p) =>
        rerankAnalyzed(p.query.terms, p.candidates, p.analyzed, {
          method: 'keel',
          topK: 10,
          stats,
        }),
    ],
    [
      '  same, feedback weight 0',
      (p) =>
        rerankAnalyzed(p.query.terms, p.candidates, p.analyzed, {
          method: 'keel',
          topK: 10,
          stats,
          weights: noFeedback,
        }),
    ],
  ];
  const times = variants.map((): number[] => []);
  for (let pass = 0; pass < 2; pass++) {
    test.forEach((p, q) => {
      for (let k = 0; k < variants.length; k++) {
        const v = (q + k) % variants.length;
        const t0 = performance.now();
        variants[v][1](p);
        if (pass === 1) times[v].push(performance.now() - t0); // the first pass warms the JIT
      }
    });
  }
  const cost = [`| call, ${DEPTH} candidates | median ms | p90 ms |`, `|---|---|---|`];
  log('');
  variants.forEach(([label], v) => {
    const sorted = times[v].sort((a, b) => a - b);
    const q = (x: number): string =>
      sorted[Math.min(sorted.length - 1, Math.floor(x * sorted.length))].toFixed(2);
    log(
      `${label}, ${DEPTH} candidates: median ${q(0.5)} ms, p90 ${q(0.9)} ms per call (${sorted.length} test queries)`,
    );
    cost.push(`| ${label.replace(/^ {2}/, '· ')} | ${q(0.5)} | ${q(0.9)} |`);
  });
  const elapsed = performance.now() - started;
  log(`total ${ms(elapsed)}`);

  const m = machine();
  const report = `# Rerank tuning — SciFact train, reported on test

Generated by \`npm run bench:rerank\` (test/bench/tune-rerank.ts) in ${ms(elapsed)}. Machine: ${m.cpu},
${m.cores} cores, ${m.memoryGiB} GiB, Node ${m.node}, commit ${m.commit}, ${m.date}. Shared, noisy
machine: the costs are comparable within this run only.

Everything is chosen on BEIR SciFact **train** (${splits.train.length} claims): the FTS5 title weight, the
lexical part of \`keel\` by coordinate ascent, its weight α next to the first-stage score, the weight
γ of \`feedback\`, and the MMR λ. Test (${splits.test.length} claims) is only reported. Each candidate list
is the top ${DEPTH} of the first stage; nDCG@10 and Recall@100 follow trec_eval (\`ndcg_cut.10\`).

## nDCG@10 and Recall@100

${table.join('\n')}

A rerank reorders the same ${DEPTH} candidates: its Recall@100 is its first stage's. "Baked
defaults" is what \`@keel/reranking\` ships (\`libs/reranking/src/defaults.ts\`); ${
    agree
      ? 'it is exactly what this run tuned.'
      : '**it differs from what this run tuned**: bake the tuned values.'
  }

## Is it more than noise?

Paired over queries, with the tests \`keel eval compare\` runs (two-sided; the randomization test
flips signs 10,000 times with a fixed seed).

${comparisons.join('\n')}

Overfitting checks inside train (choose on one half, measure on the other):

- ${alphaCv}
- ${gammaCv}

Tuned: \`${JSON.stringify(tunedConfig)}\`

Signals tried before \`feedback\` and left out (expansion-term PRF, bigrams, best sentence, other
document-similarity smoothings) are in [rerank-signals.md](rerank-signals.md).

## Cost of one \`rerank()\` call

As a pool thread pays it, analysis of the ${DEPTH} candidates included, over the ${splits.test.length} test queries
(the variants interleaved per query, after a warm-up pass):

${cost.join('\n')}
`;
  // Formatted as the repository's Prettier settings want it, so that the file passes format:check.
  const out = path.join(repoRoot(), 'docs/benchmarks/rerank.md');
  writeFileSync(out, await format(report, { ...(await resolveConfig(out)), filepath: out }));
  log(`wrote ${path.relative(repoRoot(), out)}`);
}

type RerankOverrides = {
  stats?: CorpusStats;
  weights?: RerankWeights;
  mmrLambda?: number;
  bm25?: Bm25Params;
  proximity?: ProximityParams;
};

/**
 * Repeated 2-fold cross-validation inside train: `trial` chooses on one half and returns the gain
 * it measures on the other; one gain per half and repeat.
 */
function crossValidate(
  set: Prepared[],
  columns: Columns,
  trial: (fit: Prepared[], fitCols: Columns, held: Prepared[], heldCols: Columns) => number,
): number[] {
  const gains: number[] = [];
  const random = lcg(20240601);
  for (let repeat = 0; repeat < CV_REPEATS; repeat++) {
    const order = shuffled(set.length, random);
    const half = order.length >> 1;
    for (const [fit, held] of [
      [order.slice(0, half), order.slice(half)],
      [order.slice(half), order.slice(0, half)],
    ]) {
      gains.push(
        trial(
          fit.map((i) => set[i]),
          fit.map((i) => columns[i]),
          held.map((i) => set[i]),
          held.map((i) => columns[i]),
        ),
      );
    }
  }
  return gains;
}

function cvLine(what: string, gains: number[]): string {
  return (
    `2-fold CV on train (${CV_REPEATS}×): held-out gain of ${what} ` +
    `${signed(mean(gains))} (${gains.filter((g) => g > 0).length}/${gains.length} halves up)`
  );
}

/**
 * The columns with `feedback` filled in as `fillFeedback` does it: similarity to the best candidate
 * (and, for that one, to the runner-up) by the weighted sum of the other columns.
 */
function withFeedbackColumns(set: Prepared[], columns: Columns, weights: RerankWeights): Columns {
  return set.map((p, q) => {
    const n = p.hits.length;
    const base = new Float64Array(n);
    for (const name of RERANK_FEATURES) {
      const w = name === 'feedback' ? 0 : weights[name];
      if (w === 0) continue;
      for (let i = 0; i < n; i++) base[i] += w * columns[q][name][i];
    }
    let best = -1;
    let runnerUp = -1;
    for (let i = 0; i < n; i++) {
      if (best < 0 || base[i] > base[best]) [best, runnerUp] = [i, best];
      else if (runnerUp < 0 || base[i] > base[runnerUp]) runnerUp = i;
    }
    const feedback = Float64Array.from(minMax(feedbackScores(p.analyzed, best, runnerUp)));
    return { ...columns[q], feedback };
  });
}

function featureColumns(set: Prepared[], params: Params, stats: CorpusStats): Columns {
  return set.map((p) => {
    const context = queryContext(p.query.terms, p.analyzed, stats);
    const features: FeatureVector[] = p.analyzed.map((a, i) => ({
      ...candidateFeatures(context, a, params.bm25, params.proximity),
      first: p.hits[i].score,
    }));
    const out = {} as Record<RerankFeature, Float64Array>;
    for (const name of RERANK_FEATURES)
      out[name] = Float64Array.from(minMax(features.map((f) => f[name])));
    return out;
  });
}

/** Train nDCG@10 of the `keel` weighted sum, straight from cached normalized columns. */
function evaluate(set: Prepared[], columns: Columns, weights: RerankWeights): number {
  let sum = 0;
  set.forEach((p, q) => {
    const n = p.hits.length;
    const scores = new Float64Array(n);
    for (const name of RERANK_FEATURES) {
      const w = weights[name];
      if (w === 0) continue;
      const column = columns[q][name];
      for (let i = 0; i < n; i++) scores[i] += w * column[i];
    }
    const order = Array.from({ length: n }, (_, i) => i).sort(
      (a, b) => scores[b] - scores[a] || a - b,
    );
    sum += ndcgAt10(
      order.map((i) => p.candidates[i].id),
      p.query.relevant,
    );
  });
  return sum / set.length;
}

/**
 * trec_eval's ndcg_cut.10: gain = graded relevance, log2(rank + 1) discount, ideal from the qrels.
 * (Local until the evaluation lib provides metrics.)
 */
function ndcgAt10(ranked: readonly string[], relevant: ReadonlyMap<string, number>): number {
  let dcg = 0;
  for (let i = 0; i < Math.min(10, ranked.length); i++) {
    dcg += (relevant.get(ranked[i]) ?? 0) / Math.log2(i + 2);
  }
  const ideal = [...relevant.values()]
    .filter((g) => g > 0)
    .sort((a, b) => b - a)
    .slice(0, 10);
  let idcg = 0;
  ideal.forEach((g, i) => (idcg += g / Math.log2(i + 2)));
  return idcg > 0 ? dcg / idcg : 0;
}

function recallAt100(ranked: readonly string[], relevant: ReadonlyMap<string, number>): number {
  const positives = [...relevant].filter(([, g]) => g > 0).map(([id]) => id);
  if (positives.length === 0) return 0;
  const top = new Set(ranked.slice(0, 100));
  return positives.filter((id) => top.has(id)).length / positives.length;
}

function perQueryNdcg(split: Query[], runs: Hit[][], docs: Doc[]): number[] {
  return split.map((q, i) => ndcgAt10(ids(q, runs[i], docs), q.relevant));
}

function meanNdcg(split: Query[], runs: Hit[][], docs: Doc[]): number {
  return mean(perQueryNdcg(split, runs, docs));
}

function meanRecall(split: Query[], runs: Hit[][], docs: Doc[]): number {
  return mean(split.map((q, i) => recallAt100(ids(q, runs[i], docs), q.relevant)));
}

/** Ranked doc ids, without the query's own id (BEIR's convention). */
function ids(query: Query, run: Hit[], docs: Doc[]): string[] {
  return run.map((h) => docs[h.doc].id).filter((id) => id !== query.id);
}

function ftsIndex(docs: Doc[]): (terms: string[], titleWeight: number) => Hit[] {
  const db = new DatabaseSync(':memory:');
  db.exec(
    "CREATE VIRTUAL TABLE fts USING fts5(title, body, tokenize = 'unicode61 remove_diacritics 2', content = '')",
  );
  const insert = db.prepare('INSERT INTO fts(rowid, title, body) VALUES (?, ?, ?)');
  db.exec('BEGIN');
  docs.forEach((d, i) => insert.run(i + 1, analyze(d.title).join(' '), analyze(d.text).join(' ')));
  db.exec('COMMIT');
  const statements = new Map<number, ReturnType<DatabaseSync['prepare']>>();
  return (terms, titleWeight) => {
    if (terms.length === 0) return [];
    let statement = statements.get(titleWeight);
    if (!statement) {
      // bm25()'s column weights must be literals; titleWeight comes from this file's grid.
      statement = db.prepare(
        `SELECT rowid, bm25(fts, ${Number(titleWeight)}, 1.0) AS s FROM fts WHERE fts MATCH ? ORDER BY s LIMIT ${DEPTH}`,
      );
      statements.set(titleWeight, statement);
    }
    const match = terms.map((t) => `"${t}"`).join(' OR ');
    return statement
      .all(match)
      .map((row) => ({ doc: Number(row.rowid) - 1, score: -Number(row.s) }));
  };
}

function corpusStats(analyzed: AnalyzedCandidate[]): CorpusStats {
  const documentFrequency: Record<string, number> = Object.create(null) as Record<string, number>;
  let total = 0;
  for (const a of analyzed) {
    total += a.length;
    for (const term of a.termFrequency.keys())
      documentFrequency[term] = (documentFrequency[term] ?? 0) + 1;
  }
  return {
    documentCount: analyzed.length,
    averageLength: total / analyzed.length,
    documentFrequency,
  };
}

function queries(qrels: Qrels, text: Map<string, string>): Query[] {
  return [...qrels].map(([id, relevant]) => {
    const q = text.get(id);
    if (q === undefined) throw new Error(`query ${id} is in the qrels but not in queries.jsonl`);
    return { id, text: q, terms: queryTerms(q), relevant };
  });
}

function readQrels(file: string): Qrels {
  const out: Qrels = new Map();
  for (const line of readFileSync(file, 'utf8').trim().split('\n').slice(1)) {
    const [q, d, s] = line.split('\t');
    let rel = out.get(q);
    if (!rel) out.set(q, (rel = new Map()));
    rel.set(d, Number(s));
  }
  return out;
}

function readJsonl(file: string): Record<string, unknown>[] {
  return readFileSync(file, 'utf8')
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function str(value: unknown): string {
  return typeof value === 'string' ? value : '';
}

const docIndexCache = new WeakMap<Doc[], Map<string, number>>();
function docIndex(docs: Doc[], id: string): number {
  let index = docIndexCache.get(docs);
  if (!index) docIndexCache.set(docs, (index = new Map(docs.map((d, i) => [d.id, i]))));
  const i = index.get(id);
  if (i === undefined) throw new Error(`unknown doc ${id}`);
  return i;
}

/** The candidates in a seeded random order, without first-stage scores. */
function unscored(p: Prepared, index: number): Prepared {
  const order = shuffled(p.hits.length, lcg(index + 1));
  return {
    query: p.query,
    hits: order.map((i) => ({ doc: p.hits[i].doc, score: 0 })),
    analyzed: order.map((i) => p.analyzed[i]),
    candidates: order.map((i) => ({
      id: p.candidates[i].id,
      title: p.candidates[i].title,
      text: p.candidates[i].text,
    })),
  };
}

/** A small seeded generator (Numerical Recipes LCG): the same shuffles on every run. */
function lcg(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return state / 2 ** 32;
  };
}

function shuffled(n: number, random: () => number): number[] {
  const out = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

function f4(value: number): string {
  return value.toFixed(4);
}

function signed(value: number): string {
  return `${value >= 0 ? '+' : ''}${value.toFixed(4)}`;
}

function mean(values: number[]): number {
  return values.length > 0 ? values.reduce((a, b) => a + b, 0) / values.length : 0;
}

function ms(value: number): string {
  return value >= 1000 ? `${(value / 1000).toFixed(1)} s` : `${value.toFixed(0)} ms`;
}

function log(line: string): void {
  process.stdout.write(`${line}\n`);
}

await main();
