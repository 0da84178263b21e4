#!/usr/bin/env bash
# Validates the Kubernetes manifests and the image definition; exits non-zero on any problem.
#   1. renders k8s/base and every overlay (scripts/render-k8s.sh's layout);
#   2. kubeconform -strict against Kubernetes and KEDA JSON schemas made locally (no schema is
#      downloaded: kubeconform's default registry is on the web);
#   3. the wiring checks of scripts/k8s-check.py (KEDA's listNames and target against the
#      workers' own settings, shutdown grace against job length, probes);
#   4. hadolint on the Dockerfile.
# Tools and schemas are cached under .tools/ (see scripts/k8s-tools.sh): the first run takes
# about two minutes, later ones a few seconds.
#
#   scripts/validate-k8s.sh [--render-dir DIR]   keep the rendered manifests in DIR
set -euo pipefail

render_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --render-dir)
      render_dir="${2:?--render-dir needs a directory}"
      shift 2
      ;;
    *)
      echo "usage: scripts/validate-k8s.sh [--render-dir DIR]" >&2
      exit 2
      ;;
  esac
done

# shellcheck source-path=SCRIPTDIR source=k8s-tools.sh
. "$(dirname "$0")/k8s-tools.sh"
started=$SECONDS

if [ -z "$render_dir" ]; then
  render_dir="$(mktemp -d)"
  trap 'rm -rf "$render_dir"' EXIT
fi

# The venv first (everything below uses it), then kubeconform's build beside the schema
# conversion: one compiles Go, the other runs Python, and there are two cores.
py="$(k8s_python)"
mkdir -p "$K8S_TOOLS"
k8s_ensure_kubeconform >"$K8S_TOOLS/kubeconform-build.log" 2>&1 &
build_pid=$!
k8s_ensure_schemas
if ! wait "$build_pid"; then
  cat "$K8S_TOOLS/kubeconform-build.log" >&2
  exit 1
fi
cat "$K8S_TOOLS/kubeconform-build.log" >&2

k8s_render "$render_dir"
k8s_log "rendered ${K8S_RENDERED[*]} with ${K8S_KUSTOMIZE[*]}"

files=()
for name in "${K8S_RENDERED[@]}"; do files+=("$render_dir/$name.yaml"); done

status=0
# No -ignore-missing-schemas: a kind without a schema is an error, not a pass.
"$K8S_TOOLS_BIN/kubeconform" -strict -summary -kubernetes-version "$K8S_SCHEMA_VERSION" \
  -schema-location "$K8S_SCHEMAS/{{ .NormalizedKubernetesVersion }}-standalone{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json" \
  "${files[@]}" || status=1
"$py" "$K8S_ROOT/scripts/k8s-check.py" wiring "${files[@]}" || status=1
if "$K8S_TOOLS/k8s-venv/bin/hadolint" "$K8S_ROOT/Dockerfile"; then
  k8s_log "hadolint: Dockerfile ok"
else
  status=1
fi

if [ "$status" -ne 0 ]; then
  k8s_log "FAILED ($((SECONDS - started)) s)"
  exit 1
fi
k8s_log "manifests valid ($((SECONDS - started)) s)"
