#!/usr/bin/env bash
# A three-node Sluice cluster on this machine, on loopback only, in front of the demo back-end.
#
#   deploy/local-cluster.sh          start the demo back-end and node1..node3 (deploy/examples),
#                                    wait until every node is ready, then stay in the foreground;
#                                    Ctrl-C stops everything it started
#   deploy/local-cluster.sh stop     from another shell: stop what a running start started
#
# Every process it starts is written down as <run dir>/<name>.pid with its output in
# <name>.log; stop signals only those PIDs (SIGTERM: a node drains, leaves the cluster and exits
# with 143), and only while each PID still runs the command this script gave it.
#
# Environment:
#   SLUICE_PORT_BASE       unset: the ports of the examples (nodes 8080/8090/8100, operator's
#                          listeners 8081/8091/8101, cluster 2552-2554, back-end 9001). Set to B:
#                          node i (0-2) takes http B+10i, admin B+10i+1, cluster B+10i+2, and the
#                          back-end B+30, all through -D overrides of the same example files.
#   SLUICE_RUN_DIR         where the PID files and logs go (default deploy/target/local-cluster)
#   SLUICE_READY_TIMEOUT   seconds to wait for every node's /ready (default 60)
#   SLUICE_STOP_TIMEOUT    seconds a node may take to stop before it is killed (default 30:
#                          the examples' drain-timeout of 10 s plus the leave)
#   SLUICE_JAVA_OPTS       JVM options of each process (default -Xmx256m -XX:+UseSerialGC)
#   JAVA_HOME              the Java to run (default: java on the PATH)
set -euo pipefail

deploy_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$deploy_dir")
jar="$repo/node/target/sluice.jar"
examples="$deploy_dir/examples"
run_dir=${SLUICE_RUN_DIR:-"$deploy_dir/target/local-cluster"}
ready_timeout=${SLUICE_READY_TIMEOUT:-60}
stop_timeout=${SLUICE_STOP_TIMEOUT:-30}
read -r -a java_opts <<< "${SLUICE_JAVA_OPTS:--Xmx256m -XX:+UseSerialGC}"
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
nodes=(node1 node2 node3)

# Ports: node i's http, admin and cluster port, and the back-end's.
if [[ -n ${SLUICE_PORT_BASE:-} ]]; then
  base=$SLUICE_PORT_BASE
  [[ $base =~ ^[0-9]+$ ]] && ((base >= 1024 && base + 30 <= 65535)) \
    || { echo "local-cluster: SLUICE_PORT_BASE must be a port from 1024 to 65505, was '$base'" >&2; exit 2; }
  http_port() { echo $((base + 10 * $1)); }
  admin_port() { echo $((base + 10 * $1 + 1)); }
  cluster_port() { echo $((base + 10 * $1 + 2)); }
  backend_port=$((base + 30))
else
  http_port() { echo $((8080 + 10 * $1)); }
  admin_port() { echo $((8081 + 10 * $1)); }
  cluster_port() { echo $((2552 + $1)); }
  backend_port=9001
fi

# The text that marks a command line as one of this run directory's processes.
marker="-Dsluice-local-cluster=$run_dir"

die() {
  echo "local-cluster: $*" >&2
  exit 1
}

# PID of a process this run directory started, if it still runs; nothing otherwise.
live_pid() {
  local file="$run_dir/$1.pid" pid
  [[ -f $file ]] || return 0
  pid=$(<"$file")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  # a PID can be reused once its process is gone: only ours carry the marker
  # (followed by a space: more arguments always come after it, and /tmp/run must not match /tmp/run2)
  if ps -ww -o args= -p "$pid" 2>/dev/null | grep -qF -- "$marker "; then
    echo "$pid"
  fi
}

# Whether a PID still runs (a zombie, exited but not yet reaped by its parent, does not).
running() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
  [[ -n $state && $state != Z* ]]
}

log_tail() {
  echo "--- last lines of $run_dir/$1.log ---" >&2
  tail -n 25 "$run_dir/$1.log" >&2 || true
}

# Sends SIGTERM to the given names' processes at once and waits until they are gone; one still
# there after the timeout gets SIGKILL. Returns 1 if any had to be killed.
terminate() {
  local timeout=$1 name pid left killed=0
  shift
  local -a names=() pids=()
  for name in "$@"; do
    pid=$(live_pid "$name")
    if [[ -n $pid ]]; then
      names+=("$name")
      pids+=("$pid")
      kill -TERM "$pid" 2>/dev/null || true
    fi
  done
  local deadline=$((SECONDS + timeout))
  while :; do
    left=0
    for pid in "${pids[@]}"; do
      running "$pid" && left=$((left + 1))
    done
    ((left == 0 || SECONDS >= deadline)) && break
    sleep 0.2
  done
  for i in "${!pids[@]}"; do
    if running "${pids[$i]}"; then
      echo "local-cluster: ${names[$i]} (pid ${pids[$i]}) still running after ${timeout}s: SIGKILL" >&2
      kill -KILL "${pids[$i]}" 2>/dev/null || true
      killed=1
    fi
    rm -f "$run_dir/${names[$i]}.pid"
  done
  return $killed
}

# The nodes first (each drains against the back-end and leaves), then the back-end. node2 and
# node3 leave together, then node1: it has the lowest address, so it is the cluster's leader,
# and a leader that leaves together with every other node waits out Pekko's cluster-exiting
# phase (10 s) for a removal nobody is left to confirm.
stop_all() {
  local ok=0
  terminate "$stop_timeout" "${nodes[@]:1}" || ok=1
  terminate "$stop_timeout" "${nodes[0]}" || ok=1
  terminate 10 backend || ok=1
  rm -f "$run_dir"/*.pid
  return $ok
}

# HTTP status of GET http://127.0.0.1:<port><path>, 000 if nothing answers.
http_status() {
  curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$1$2" || true
}

start_process() {
  local name=$1
  shift
  "$java" "${java_opts[@]}" "$marker" "$@" > "$run_dir/$name.log" 2>&1 &
  echo $! > "$run_dir/$name.pid"
}

start() {
  command -v curl > /dev/null || die "needs curl (to ask each node's /ready)"
  command -v "$java" > /dev/null || die "no java at '$java' (set JAVA_HOME or put java on the PATH)"
  mkdir -p "$run_dir"
  local name pid
  for name in backend "${nodes[@]}"; do
    pid=$(live_pid "$name")
    [[ -z $pid ]] || die "$name is already running (pid $pid, $run_dir); run '$0 stop' first"
  done
  rm -f "$run_dir"/*.pid

  if [[ ! -f $jar ]]; then
    echo "local-cluster: $jar is missing; building it (mvn -B -q -DskipTests package)"
    (cd "$repo" && mvn -B -q -DskipTests package) || die "the build failed"
  fi

  # From here on, Ctrl-C (or a SIGTERM or SIGHUP to this script) stops what it started. The
  # children are background jobs of a non-interactive shell, which ignore SIGINT: Ctrl-C reaches
  # only this script, and the nodes get SIGTERM from it.
  trap 'echo; echo "local-cluster: stopping"; stop_all || true; exit 130' INT
  trap 'stop_all || true; exit 143' TERM HUP

  start_process backend -cp "$jar" sluice.demo.ThrashingBackend --host 127.0.0.1 --port "$backend_port"
  local deadline=$((SECONDS + 20))
  until [[ $(http_status "$backend_port" /stats) == 200 ]]; do
    if [[ -z $(live_pid backend) ]] || ((SECONDS >= deadline)); then
      echo "local-cluster: the demo back-end did not come up on 127.0.0.1:$backend_port" >&2
      log_tail backend
      stop_all || true
      exit 1
    fi
    sleep 0.2
  done

  local i seeds=()
  for i in 0 1 2; do
    seeds+=("-Dsluice.cluster.seed-nodes.$i=127.0.0.1:$(cluster_port "$i")")
  done
  for i in 0 1 2; do
    local -a overrides=()
    if [[ -n ${SLUICE_PORT_BASE:-} ]]; then
      overrides=("-Dsluice.http.listen=127.0.0.1:$(http_port "$i")"
        "-Dsluice.admin.listen=127.0.0.1:$(admin_port "$i")"
        "-Dsluice.cluster.port=$(cluster_port "$i")"
        "${seeds[@]}"
        "-Dsluice.pools.web.backends.0=127.0.0.1:$backend_port")
    fi
    start_process "${nodes[$i]}" "${overrides[@]}" -jar "$jar" --config "$examples/${nodes[$i]}.conf"
  done

  # Every node ready (up in the cluster, a lease for the back-end) within one deadline.
  deadline=$((SECONDS + ready_timeout))
  local -a ready=(0 0 0)
  local count=0
  while ((count < 3)); do
    for i in 0 1 2; do
      ((ready[i])) && continue
      name=${nodes[$i]}
      if [[ $(http_status "$(admin_port "$i")" /ready) == 200 ]]; then
        ready[i]=1
        count=$((count + 1))
        echo "local-cluster: $name ready (pid $(<"$run_dir/$name.pid"))"
      elif [[ -z $(live_pid "$name") ]]; then
        echo "local-cluster: $name exited before it was ready" >&2
        log_tail "$name"
        stop_all || true
        exit 1
      fi
    done
    if ((count < 3 && SECONDS >= deadline)); then
      for i in 0 1 2; do
        if ((!ready[i])); then
          echo "local-cluster: ${nodes[$i]} not ready within ${ready_timeout}s:" \
            "$(curl -s --max-time 2 "http://127.0.0.1:$(admin_port "$i")/ready" || echo 'no answer')" >&2
          log_tail "${nodes[$i]}"
        fi
      done
      stop_all || true
      exit 1
    fi
    ((count < 3)) && sleep 0.25
  done

  echo "local-cluster: 3 nodes ready, on loopback only"
  echo "  demo back-end  http://127.0.0.1:$backend_port/   (stats: /stats)  pid $(<"$run_dir/backend.pid")"
  for i in 0 1 2; do
    printf '  %s  http://127.0.0.1:%d/   status: curl http://127.0.0.1:%d/status   cluster port %d  pid %s\n' \
      "${nodes[$i]}" "$(http_port "$i")" "$(admin_port "$i")" "$(cluster_port "$i")" "$(<"$run_dir/${nodes[$i]}.pid")"
  done
  echo "  logs and PIDs in $run_dir"
  echo "  Ctrl-C here, or '$0 stop' from another shell, stops them"

  # Stay until every process is gone (a stop from another shell, or one that ends on its own).
  local -A pids=()
  for name in backend "${nodes[@]}"; do
    pids[$name]=$(<"$run_dir/$name.pid")
  done
  local code
  while ((${#pids[@]} > 0)); do
    wait -n || true
    for name in "${!pids[@]}"; do
      running "${pids[$name]}" && continue
      code=0
      wait "${pids[$name]}" || code=$?
      case $code in
        143) echo "local-cluster: $name (pid ${pids[$name]}) stopped (143: SIGTERM, graceful)" ;;
        3) echo "local-cluster: $name (pid ${pids[$name]}) was downed by the cluster (exit 3); start it again to rejoin" ;;
        *) echo "local-cluster: $name (pid ${pids[$name]}) exited with $code" ;;
      esac
      unset "pids[$name]"
    done
  done
}

case ${1:-start} in
  start) start ;;
  stop)
    if [[ ! -d $run_dir ]] || ! compgen -G "$run_dir/*.pid" > /dev/null; then
      echo "local-cluster: nothing to stop in $run_dir"
      exit 0
    fi
    stop_all && echo "local-cluster: stopped" ;;
  -h | --help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//' ;;
  *) die "unknown command '$1' (start, stop)" ;;
esac
