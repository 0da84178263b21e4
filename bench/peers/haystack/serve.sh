#!/usr/bin/env bash
# serve.sh PORT — run the Haystack/Hayhooks SciFact BM25 peer in the foreground on
# 127.0.0.1:PORT. Prints `PEER_URL=http://127.0.0.1:PORT` on stdout once every worker
# has indexed the corpus and a query through POST /scifact_bm25/run answers 200.
# Hayhooks' own logs go to stderr. Stop it with SIGINT/SIGTERM to this script's pid
# (the script execs hayhooks, so the pid is the server's).
#
# Environment (all optional):
#   SCIFACT_DIR           corpus folder (default /work/shared/data/scifact)
#   PEER_WORKERS          uvicorn worker processes (default 1; each holds its own index)
#   PEER_PROFILE          default: Hayhooks as shipped (LOG=INFO: a log line per request,
#                         local trace capture and monitoring on);
#                         lean: LOG=WARNING, --without-tracing --without-monitoring
#   PEER_READY_TIMEOUT    seconds to wait for readiness before killing the server (default 180)
#   PEER_BM25_ALGORITHM, PEER_BM25_K1, PEER_BM25_B   see pipelines/scifact_bm25/pipeline_wrapper.py
#   HAYSTACK_VENV         the venv (default <repo>/.tools/haystack-venv); created by setup.sh
set -euo pipefail
PORT="${1:?usage: serve.sh PORT}"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
VENV="${HAYSTACK_VENV:-$ROOT/.tools/haystack-venv}"
WORKERS="${PEER_WORKERS:-1}"
READY_TIMEOUT="${PEER_READY_TIMEOUT:-180}"
URL="http://127.0.0.1:$PORT"

if [ ! -x "$VENV/bin/hayhooks" ]; then
  echo "serve.sh: $VENV has no hayhooks; running setup.sh" >&2
  "$HERE/setup.sh" >&2
fi

export HAYSTACK_TELEMETRY_ENABLED=False   # no internet here; keep posthog quiet
export PYTHONUNBUFFERED=1
extra=()
case "${PEER_PROFILE:-default}" in
  default) export LOG="${LOG:-INFO}" ;;
  lean) export LOG="${LOG:-WARNING}"; extra=(--without-tracing --without-monitoring) ;;
  *) echo "serve.sh: PEER_PROFILE must be default or lean" >&2; exit 2 ;;
esac

READY_DIR="$(mktemp -d "${TMPDIR:-/tmp}/haystack-peer-ready.XXXXXX")"
export PEER_READY_DIR="$READY_DIR"
SERVER_PID=$$

# Readiness watcher: runs beside the server (which takes over this pid via exec below);
# double-forked so that it is not left as a zombie child of the server.
( (
  trap 'rm -rf "$READY_DIR"' EXIT
  start=$(date +%s%N)
  body='{"query":"0-dimensional biomaterials lack inductive properties.","top_k":10}'
  while :; do
    kill -0 "$SERVER_PID" 2>/dev/null || exit 0
    n=$(find "$READY_DIR" -type f | wc -l)
    if [ "$n" -ge "$WORKERS" ] && curl -sf -m 5 -o /dev/null -X POST "$URL/scifact_bm25/run" \
         -H 'content-type: application/json' -d "$body"; then
      ms=$(( ($(date +%s%N) - start) / 1000000 ))
      echo "serve.sh: ready after ${ms} ms (${WORKERS} worker(s), profile ${PEER_PROFILE:-default})" >&2
      echo "PEER_URL=$URL"
      exit 0
    fi
    if [ $(( ($(date +%s%N) - start) / 1000000000 )) -ge "$READY_TIMEOUT" ]; then
      echo "serve.sh: not ready after ${READY_TIMEOUT}s; stopping the server" >&2
      kill -TERM "$SERVER_PID" 2>/dev/null || true
      exit 1
    fi
    sleep 0.1
  done
) & )

cd "$ROOT"
exec "$VENV/bin/hayhooks" run --host 127.0.0.1 --port "$PORT" --workers "$WORKERS" \
  --pipelines-dir "$HERE/pipelines" "${extra[@]}"
