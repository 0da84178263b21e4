// trec_eval itself, through pytrec_eval (PyPI pytrec-eval-terrier, a build of trec_eval 9), as
// the reference Keel's metrics are checked against. It lives in a venv under .tools/ (ignored by
// git), made on first use: python3.11 (or $TREC_EVAL_PYTHON) and PyPI must be reachable then.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Qrels, Run } from '@keel/evaluation';

const HERE = dirname(fileURLToPath(import.meta.url));
const REPO_ROOT = resolve(HERE, '../..');
export const PYTREC_EVAL_VERSION = '0.5.11';
export const TREC_EVAL_VENV = join(REPO_ROOT, '.tools/pytrec');
const SCRIPT = join(HERE, 'trec_eval.py');

/** Per query id, per trec_eval measure name, the value. */
export type TrecEvalResult = Record<string, Record<string, number>>;

function works(python: string): boolean {
  const check = `import pytrec_eval, sys; sys.exit(pytrec_eval.__version__ != '${PYTREC_EVAL_VERSION}')`;
  return existsSync(python) && spawnSync(python, ['-c', check], { stdio: 'ignore' }).status === 0;
}

/**
 * The venv's python with pytrec_eval installed: at once when it is there (about 0.1 s to check),
 * else made in a staging directory and renamed into place, so a concurrent or interrupted
 * install never leaves a half-made venv where the check looks (a venv runs fine after a move).
 */
export function ensureTrecEval(): string {
  const python = join(TREC_EVAL_VENV, 'bin/python');
  if (works(python)) return python;
  const staging = `${TREC_EVAL_VENV}.staging-${process.pid}`;
  rmSync(staging, { recursive: true, force: true });
  const base = process.env.TREC_EVAL_PYTHON ?? 'python3.11';
  try {
    execFileSync(base, ['-m', 'venv', staging], { stdio: 'pipe' });
    execFileSync(
      join(staging, 'bin/python'),
      [
        '-m',
        'pip',
        'install',
        '--disable-pip-version-check',
        '--quiet',
        `pytrec-eval-terrier==${PYTREC_EVAL_VERSION}`,
      ],
      { stdio: 'pipe', timeout: 300_000 },
    );
  } catch (error) {
    rmSync(staging, { recursive: true, force: true });
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? '';
    throw new Error(
      `could not install pytrec-eval-terrier ${PYTREC_EVAL_VERSION} with ${base} into ${staging}: ${(error as Error).message}\n${stderr}`,
      { cause: error },
    );
  }
  if (works(python)) {
    // Another process finished first.
    rmSync(staging, { recursive: true, force: true });
    return python;
  }
  rmSync(TREC_EVAL_VENV, { recursive: true, force: true });
  renameSync(staging, TREC_EVAL_VENV);
  if (!works(python)) throw new Error(`pytrec_eval does not load from ${TREC_EVAL_VENV}`);
  return python;
}

/** Keel's qrels and run as pytrec_eval's dicts; what they cannot hold is an error here. */
function toPytrec(qrels: Qrels, run: Run) {
  const q: Record<string, Record<string, number>> = {};
  for (const [qid, judgements] of qrels) {
    q[qid] = {};
    for (const [doc, grade] of judgements) {
      if (!Number.isInteger(grade)) {
        throw new Error(`trec_eval takes integer grades only (query ${qid}, document ${doc})`);
      }
      q[qid][doc] = grade;
    }
  }
  const r: Record<string, Record<string, number>> = {};
  for (const [qid, docs] of run) {
    r[qid] = {};
    for (const { id, score } of docs) {
      if (id in r[qid]) throw new Error(`duplicate document ${id} in the run of query ${qid}`);
      // JSON has no Infinity or NaN.
      if (!Number.isFinite(score)) throw new Error(`score of ${id} in ${qid} is not finite`);
      r[qid][id] = score;
    }
  }
  return { qrels: q, run: r };
}

/**
 * trec_eval's per-query values of `measures` (trec_eval names; `recip_rank@10` is recip_rank
 * on the run cut to its first 10 documents, see trec_eval.py). One python process per call.
 */
export function trecEval(qrels: Qrels, run: Run, measures: string[]): Promise<TrecEvalResult> {
  const python = ensureTrecEval();
  const input = JSON.stringify({ ...toPytrec(qrels, run), measures });
  return new Promise((resolvePromise, reject) => {
    const child = spawn(python, [SCRIPT], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (chunk: Buffer) => out.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => err.push(chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) {
        reject(new Error(`trec_eval.py exited ${code}: ${Buffer.concat(err).toString()}`));
        return;
      }
      try {
        resolvePromise(JSON.parse(Buffer.concat(out).toString()) as TrecEvalResult);
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
    child.stdin.end(input);
  });
}
