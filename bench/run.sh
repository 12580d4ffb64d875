#!/usr/bin/env bash
# Sluice bench: one command, all scenarios, side by side (no proxy, HAProxy, Sluice).
#   bench/run.sh [--set default|dataplane|cluster] [--quick] [--rounds N] [--warmup S] [--measure S]
#                [--sweep 4,8,16] [--only a,b] [--haproxy-threads N]
# Builds what is needed, installs HAProxy if missing, runs, writes bench/results/<date>/ and
# prints the tables. Every server listens on 127.0.0.1 only. Not run by CI.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"

"$ROOT/bench/install-haproxy.sh"

if [ -z "${SKIP_BUILD:-}" ]; then
  echo "building (mvn -q -DskipTests package) ..."
  mvn -q -B -DskipTests -pl bench -am package
fi

OUT="bench/results/$(date +%Y-%m-%d_%H%M)"
mkdir -p "$OUT"

# If the bench JVM dies hard, stop whatever children it recorded (by PID, nothing else).
cleanup() {
  if [ -f "$OUT/pids" ]; then
    while read -r pid name; do
      if kill -0 "$pid" 2>/dev/null; then
        echo "stopping leftover $name (pid $pid)"
        kill "$pid" 2>/dev/null || true
      fi
    done < "$OUT/pids"
  fi
}
trap cleanup EXIT INT TERM

java ${BENCH_JAVA_OPTS:--Xmx1g} \
  -cp "bench/target/sluice-bench.jar:node/target/sluice.jar" \
  sluice.bench.BenchMain --out "$OUT" --sluice-jar node/target/sluice.jar "$@"
