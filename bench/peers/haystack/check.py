#!/usr/bin/env python3
"""Sanity check of the Haystack peer: send the SciFact test queries to the running
hayhooks server and score the answers with pytrec_eval (nDCG@10, Recall@100).

  .tools/haystack-venv/bin/python bench/peers/haystack/check.py --url http://127.0.0.1:PORT

Sequential (one request at a time); each request has a timeout, the whole run a
deadline. Prints the metrics, the client-side latency of the requests, and exits 1
when a request failed or nDCG@10 is below --min-ndcg.
"""

import argparse
import json
import math
import os
import statistics
import sys
import time
import urllib.request

import pytrec_eval


def read_queries(path):
    out = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if line.strip():
                row = json.loads(line)
                out[str(row["_id"])] = row["text"]
    return out


def read_qrels(path):
    qrels = {}
    with open(path, encoding="utf-8") as f:
        next(f)  # header: query-id corpus-id score
        for line in f:
            parts = line.rstrip("\n").split("\t")
            if len(parts) < 3:
                continue
            qid, did, score = parts[0], parts[1], int(parts[2])
            qrels.setdefault(qid, {})[did] = score
    return qrels


def post(url, body, timeout):
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        return json.loads(resp.read())


def pct(values, p):
    """Nearest-rank percentile."""
    s = sorted(values)
    return s[max(0, math.ceil(p / 100.0 * len(s)) - 1)]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--url", default=os.environ.get("PEER_URL", "http://127.0.0.1:1416"))
    ap.add_argument("--pipeline", default="scifact_bm25")
    ap.add_argument("--scifact-dir", default=os.environ.get("SCIFACT_DIR") or "/work/shared/data/scifact")
    ap.add_argument("--split", default="test")
    ap.add_argument("--top-k", type=int, default=100)
    ap.add_argument("--timeout", type=float, default=30.0, help="seconds per request")
    ap.add_argument("--deadline", type=float, default=600.0, help="seconds for the whole run")
    ap.add_argument("--min-ndcg", type=float, default=0.0)
    ap.add_argument("--run-out", help="write the run (TREC format) to this file")
    args = ap.parse_args()

    queries = read_queries(os.path.join(args.scifact_dir, "queries.jsonl"))
    qrels = read_qrels(os.path.join(args.scifact_dir, "qrels", f"{args.split}.tsv"))
    qids = sorted(qrels, key=lambda q: int(q) if q.isdigit() else q)
    endpoint = f"{args.url.rstrip('/')}/{args.pipeline}/run"

    run, lat_ms, failures = {}, [], 0
    t_start = time.monotonic()
    for qid in qids:
        if time.monotonic() - t_start > args.deadline:
            print(f"deadline of {args.deadline}s reached after {len(run)} queries", file=sys.stderr)
            failures += len(qids) - len(run)
            break
        t0 = time.perf_counter()
        try:
            resp = post(endpoint, {"query": queries[qid], "top_k": args.top_k}, args.timeout)
        except Exception as e:  # noqa: BLE001
            failures += 1
            print(f"query {qid}: {e}", file=sys.stderr)
            run[qid] = {}
            continue
        lat_ms.append((time.perf_counter() - t0) * 1000)
        # BEIR's convention: a document whose id is the query's own id is dropped.
        run[qid] = {d["id"]: float(d["score"]) for d in resp["result"]["documents"] if d["id"] != qid}
    wall = time.monotonic() - t_start

    if args.run_out:
        with open(args.run_out, "w") as f:
            for qid, docs in run.items():
                for rank, (did, s) in enumerate(sorted(docs.items(), key=lambda x: -x[1]), 1):
                    f.write(f"{qid} Q0 {did} {rank} {s:.6f} haystack-bm25\n")

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, {"ndcg_cut.10", "recall.100"})
    per_q = evaluator.evaluate(run)
    # Average over every judged query (a query with no answer counts as 0), as BEIR does.
    ndcg = sum(per_q.get(q, {}).get("ndcg_cut_10", 0.0) for q in qids) / len(qids)
    rec = sum(per_q.get(q, {}).get("recall_100", 0.0) for q in qids) / len(qids)

    print(f"endpoint: POST {endpoint}  top_k={args.top_k}")
    print(f"queries: {len(qids)} ({args.split})  failed: {failures}  wall: {wall:.1f}s")
    print(f"nDCG@10: {ndcg:.4f}")
    print(f"Recall@100: {rec:.4f}")
    if lat_ms:
        print(
            "client latency ms (sequential): p50 {:.1f}  p90 {:.1f}  p99 {:.1f}  mean {:.1f}".format(
                statistics.median(lat_ms), pct(lat_ms, 90), pct(lat_ms, 99), statistics.fmean(lat_ms)
            )
        )
    if failures or ndcg < args.min_ndcg:
        sys.exit(1)


if __name__ == "__main__":
    main()
