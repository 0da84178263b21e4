#!/usr/bin/env bash
# Renders k8s/base and every overlay into DIR, for tests that read the manifests:
#   DIR/<name>.yaml   what `kubectl apply -k k8s/overlays/<name>` would apply (and `base`)
#   DIR/<name>.json   the same objects as one JSON array
#   DIR/index.json    {"rendered": ["base", "dev", "prod"]}
# Needs only kustomize and the Python venv of scripts/k8s-tools.sh (installed into .tools/ on
# first use); no schemas, no kubeconform.
set -euo pipefail
if [ $# -ne 1 ]; then
  echo "usage: scripts/render-k8s.sh DIR" >&2
  exit 2
fi
# shellcheck source-path=SCRIPTDIR source=k8s-tools.sh
. "$(dirname "$0")/k8s-tools.sh"
k8s_render "$1"
k8s_log "rendered ${K8S_RENDERED[*]} into $1"
