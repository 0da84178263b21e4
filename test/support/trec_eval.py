"""trec_eval (through pytrec_eval) for Keel's tests: reads {"qrels", "run", "measures"} as JSON on
stdin and writes pytrec_eval's per-query values, {qid: {measure: value}}, as JSON on stdout.

qrels: {qid: {doc id: integer grade}}; run: {qid: {doc id: score}}; measures: trec_eval names
(ndcg_cut_10, P_5, recall_100, map_cut_100, success_10, recip_rank, ...). A name with a suffix
"@k", e.g. "recip_rank@10", is that measure computed on the run cut to its first k documents in
trec_eval's order (score descending, then document id descending by bytes), since trec_eval has no
cutoff for recip_rank.

pytrec_eval leaves out of its answer a query that is not in the run, and a qrels query without
any judgement (its Python wrapper drops those before trec_eval sees them).
"""

import json
import sys

import pytrec_eval


def trec_order(docs):
    """(doc id, score) pairs as trec_eval ranks them."""
    items = sorted(docs.items(), key=lambda item: item[0].encode("utf-8"), reverse=True)
    # Stable: equal scores keep the descending id order of the first sort.
    items.sort(key=lambda item: item[1], reverse=True)
    return items


def main():
    data = json.load(sys.stdin)
    qrels, run, measures = data["qrels"], data["run"], data["measures"]
    # trec_eval caches a query's ranking by query id across calls, and after a call it resets the
    # cache key to the literal "no_query": a query of that id in a later call would be scored
    # with the previous call's ranking (seen with pytrec_eval 0.5.11).
    if "no_query" in run:
        raise SystemExit('trec_eval.py: the query id "no_query" is not safe with pytrec_eval')

    plain = [m for m in measures if "@" not in m]
    cut = {}
    for m in measures:
        if "@" in m:
            base, k = m.rsplit("@", 1)
            cut.setdefault(int(k), []).append(base)

    out = {}

    def merge(result, suffix=""):
        for qid, values in result.items():
            target = out.setdefault(qid, {})
            for name, value in values.items():
                target[name + suffix] = value

    if plain:
        merge(pytrec_eval.RelevanceEvaluator(qrels, plain).evaluate(run))
    for k, bases in cut.items():
        truncated = {qid: dict(trec_order(docs)[:k]) for qid, docs in run.items()}
        merge(pytrec_eval.RelevanceEvaluator(qrels, bases).evaluate(truncated), "@%d" % k)

    json.dump(out, sys.stdout)


if __name__ == "__main__":
    main()
