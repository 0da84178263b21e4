#!/usr/bin/env bash
# A real OpenSearch 2.19 node for tests and manual checks, without Docker or a distribution
# download: test/opensearch/ is a small Maven project whose launcher starts the node in-process from
# Maven Central artifacts (server, Netty HTTP, analysis-common, Painless, k-NN).
#
#   scripts/opensearch.sh build        builds test/opensearch/target if its inputs changed
#   scripts/opensearch.sh run [ARGS]   builds if needed, then runs the node in the foreground and
#                                      prints OPENSEARCH_URL=http://127.0.0.1:<port> once it
#                                      answers HTTP; Ctrl-C, SIGTERM or end of stdin stops it.
#                                      ARGS: --home DIR --data DIR --http-port N --log-level LEVEL
#
# The first build downloads the artifacts into ~/.m2; later builds try Maven offline first. The
# build is skipped while the hash of pom.xml and the sources matches the one of the last build.
# OPENSEARCH_JAVA_OPTS is appended to the JVM options (a later -Xmx wins).
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
project="$root/test/opensearch"
target="$project/target"
stamp="$target/.keel-inputs.sha256"
main_class="keel.opensearch.OpenSearchLauncher"

java_bin="${JAVA_HOME:+$JAVA_HOME/bin/}java"

inputs_hash() {
  (cd "$project" && find pom.xml src -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum) |
    sha256sum | cut -d' ' -f1
}

built() {
  [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$(inputs_hash)" ] &&
    [ -f "$target/classes/keel/opensearch/OpenSearchLauncher.class" ] &&
    compgen -G "$target/lib/opensearch-knn-*.jar" >/dev/null
}

build() {
  if built; then return 0; fi
  mkdir -p "$target"
  # One build at a time (the test harness and a person may start one together).
  exec 9>"$target/.build.lock"
  if command -v flock >/dev/null 2>&1; then flock 9; fi
  if built; then
    exec 9>&-
    return 0
  fi
  command -v mvn >/dev/null 2>&1 || {
    echo "opensearch.sh: mvn not found (apt-get install -y maven)" >&2
    return 1
  }
  echo "opensearch.sh: building test/opensearch (Maven; the first build downloads about 90 MB into ~/.m2)" >&2
  local started=$SECONDS
  # Stale jars of an older version would sit beside the new ones on the classpath; without its
  # markers the unpack goal cannot take the k-NN jars for unpacked already.
  rm -rf "${target:?}/lib" "$target/dependency-maven-plugin-markers" "$stamp"
  # Offline first: after the first build every artifact is in ~/.m2. Output goes to a log (Debian's
  # Maven prints stray colour codes even with -q -B) that is shown when the build fails.
  local log="$target/.build.log"
  if ! mvn -o -q -B -f "$project/pom.xml" package >"$log" 2>&1; then
    rm -rf "${target:?}/lib" "$target/dependency-maven-plugin-markers"
    if ! mvn -q -B -f "$project/pom.xml" package >"$log" 2>&1; then
      cat "$log" >&2
      echo "opensearch.sh: the Maven build failed (log: $log)" >&2
      return 1
    fi
  fi
  inputs_hash >"$stamp"
  exec 9>&- # the node that `run` execs must not hold the lock
  echo "opensearch.sh: built in $((SECONDS - started)) s" >&2
}

case "${1:-}" in
  build)
    build
    ;;
  run)
    shift
    build
    # -Xms512m -Xmx1g: enough for the tests' small indices and a few HNSW graphs on the heap.
    # The Netty property: OpenSearch sets Netty's processor count itself, and Netty refuses a
    # second setting in the same JVM. log4j's own shutdown hook would stop logging before the
    # node's hook has closed the node.
    # shellcheck disable=SC2086
    exec "$java_bin" -Xms512m -Xmx1g \
      -Dopensearch.set.netty.runtime.available.processors=false \
      -Dlog4j.shutdownHookEnabled=false -Dlog4j2.disable.jmx=true \
      -Djava.awt.headless=true -Dfile.encoding=UTF-8 \
      ${OPENSEARCH_JAVA_OPTS:-} \
      -cp "$target/classes:$target/lib/*" "$main_class" "$@"
    ;;
  *)
    echo "usage: scripts/opensearch.sh build | run [--home DIR] [--data DIR] [--http-port N] [--log-level LEVEL]" >&2
    exit 2
    ;;
esac
