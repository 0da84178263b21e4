# Source this file: it puts Node 24 first on PATH.
# Keel targets Node 24 LTS. Where the machine's Node is older, Node 24 is installed from the npm
# registry (package `node@24`, which carries the official binary) into .tools/node24 in the checkout.
_keel_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
_keel_major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
if [ "$_keel_major" -lt 24 ]; then
  _keel_prefix="$_keel_root/.tools/node24"
  if [ ! -x "$_keel_prefix/node_modules/.bin/node" ]; then
    echo "use-node24: installing node@24 into $_keel_prefix" >&2
    mkdir -p "$_keel_prefix"
    npm install --prefix "$_keel_prefix" --no-save --no-package-lock --no-audit --no-fund node@24 >&2 || return 1 2>/dev/null || exit 1
  fi
  export PATH="$_keel_prefix/node_modules/.bin:$PATH"
fi
unset _keel_root _keel_major _keel_prefix
