#!/usr/bin/env bash
# Creates .tools/haystack-venv (at the repository root) and installs the pinned
# Haystack + Hayhooks peer into it. Idempotent: a venv whose installed packages
# already match requirements.txt is left alone.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
VENV="${HAYSTACK_VENV:-$ROOT/.tools/haystack-venv}"
PY="${PYTHON:-}"
if [ -z "$PY" ]; then
  for c in python3.11 /root/.pyenv/shims/python3.11 python3; do
    if command -v "$c" >/dev/null 2>&1; then PY="$c"; break; fi
  done
fi
REQ="$HERE/requirements.txt"
STAMP="$VENV/.keel-requirements.sha256"
want="$(sha256sum "$REQ" | cut -d' ' -f1)"

if [ -x "$VENV/bin/python" ] && [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ]; then
  # Double-check the two packages that matter are importable at the pinned versions.
  if "$VENV/bin/python" - "$REQ" <<'PYEOF'
import sys, importlib.metadata as md, re
pins = {}
for line in open(sys.argv[1]):
    m = re.match(r"^([A-Za-z0-9_.-]+)==([^\s;#]+)", line.strip())
    if m: pins[m.group(1).lower().replace("_", "-")] = m.group(2)
for name in ("haystack-ai", "hayhooks", "pytrec-eval-terrier"):
    if md.version(name) != pins[name]:
        sys.exit(1)
PYEOF
  then
    echo "haystack peer: $VENV already has requirements.txt installed"
    exit 0
  fi
fi

echo "haystack peer: creating $VENV with $PY ($("$PY" --version 2>&1))"
mkdir -p "$(dirname "$VENV")"
[ -x "$VENV/bin/python" ] || timeout 120 "$PY" -m venv "$VENV"
export PIP_DISABLE_PIP_VERSION_CHECK=1
timeout 900 "$VENV/bin/python" -m pip install --quiet -r "$REQ"
echo "$want" > "$STAMP"
"$VENV/bin/python" -c 'import importlib.metadata as m; print("haystack peer: haystack-ai", m.version("haystack-ai"), "hayhooks", m.version("hayhooks"))'
