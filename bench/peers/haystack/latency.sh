#!/usr/bin/env bash
# latency.sh URL [N] [TOP_K] — single client: N (default 100) SciFact test queries, one
# curl at a time (10 s timeout each), to URL/scifact_bm25/run; prints p50/p90/p99/mean
# of curl's time_total. The whole loop is bounded by `timeout 300`.
set -euo pipefail
URL="${1:?usage: latency.sh URL [N] [TOP_K]}"; N="${2:-100}"; K="${3:-100}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
D="${SCIFACT_DIR:-/work/shared/data/scifact}"
tmp="$(mktemp -d)"; trap 'rm -rf "$tmp"' EXIT
python3 - "$D" "$N" "$K" > "$tmp/bodies" <<'PY'
import json, sys
d, n, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
q = {}
for line in open(f"{d}/queries.jsonl", encoding="utf-8"):
    r = json.loads(line); q[str(r["_id"])] = r["text"]
ids = []
for line in list(open(f"{d}/qrels/test.tsv"))[1:]:
    i = line.split("\t")[0]
    if i not in ids: ids.append(i)
for i in ids[:n]:
    print(json.dumps({"query": q[i], "top_k": k}))
PY
timeout 300 bash -c 'while IFS= read -r body; do
  curl -s -m 10 -o /dev/null -w "%{http_code} %{time_total}\n" -X POST "$0/scifact_bm25/run" \
    -H "content-type: application/json" -d "$body" || echo "000 0"
done < "$1"' "$URL" "$tmp/bodies" > "$tmp/out"
python3 - "$tmp/out" <<'PY'
import math, sys
rows = [l.split() for l in open(sys.argv[1])]
ok = sorted(float(r[1]) * 1000 for r in rows if r[0] == "200")
p = lambda q: ok[max(0, math.ceil(q / 100 * len(ok)) - 1)]
print(f"requests {len(rows)}  non-200 {len(rows) - len(ok)}")
if ok:
    print(f"latency ms: p50 {p(50):.1f}  p90 {p(90):.1f}  p99 {p(99):.1f}  mean {sum(ok) / len(ok):.1f}")
PY
