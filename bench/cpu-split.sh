#!/usr/bin/env bash
# bench/cpu-split.sh SERVERS [WORKLOAD] [SECONDS] [REPS] [PLACEMENT] [BUILD_DIR]
#
# Where a server's CPU time goes, on the wall clock and in the kernel too (bench/profile.sh
# counts user-space instructions only): for each server of SERVERS (names from
# bench/servers.conf, separated by commas), run pinned to CPU 0 and driven by the load generator
# (WORKLOAD, default pp64, for SECONDS, default 3; on CPU 1 for PLACEMENT "split", the default,
# on CPU 0 for "same"), it reads CPU 0's line of /proc/stat before and after and prints, per
# operation, the time CPU 0 spent in user space, in the kernel on behalf of a process
# ("system"), in softirq (most of the TCP/IP receive path on loopback) and idle. With "split"
# only the server runs on CPU 0; "idle" near 0 means the server's CPU was the limit. The servers
# take turns, REPS times (default 3), and each line is followed by the medians. /proc/stat
# counts in ticks of 10 ms: a run of a few seconds gives each figure to about 1%.
# The load generator's connection set-up is inside the window, as in bench/profile.sh. Built
# programs come from BUILD_DIR (default build-release, see bench/run.sh).
set -u -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
servers=${1:?usage: bench/cpu-split.sh SERVERS [WORKLOAD] [SECONDS] [REPS] [PLACEMENT] [BUILD_DIR]}
workload=${2:-pp64}
seconds=${3:-3}
reps=${4:-3}
placement=${5:-split}
build=${6:-$root/build-release}
# shellcheck source=bench/server-line.sh
. "$root/bench/server-line.sh"
bench_own_port "$build" "$root/bench/cpu-split.sh" "$@"
port=$UWSK_BENCH_PORT
case $placement in
  split) client_cpu=1 ;;
  same) client_cpu=0 ;;
  *) echo "cpu-split: placement is split or same, not '$placement'"; exit 1 ;;
esac
work=$(mktemp -d /tmp/uwsk-cpu-split.XXXXXX)
server_pid=
cleanup() {
  [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
  server_pid=
}
trap 'cleanup; rm -rf "$work"' EXIT

# CPU 0's user, system, softirq and idle ticks (the user figure includes "nice").
cpu0_ticks() {
  awk '$1 == "cpu0" { print $2 + $3, $4, $8, $5 + $6 }' /proc/stat
}

# Runs one server once; prints "user system softirq idle" in ns per operation, or fails.
measure() {
  local name=$1
  bench_server_command "$name" "$build" "$port" "$work/driver.log" || return 1
  bench_wait_port_free "$port" ||
    { echo "cpu-split: port $port is still in use before $name starts" >&2; return 1; }
  env "${bench_env[@]}" taskset -c 0 "${bench_command[@]}" >"$work/server.log" 2>&1 &
  server_pid=$!
  local loadgen=$build/bin/uwsk-bench-loadgen
  # A first pass warms the server up (its first connections, allocations), outside the window.
  taskset -c "$client_cpu" "$loadgen" --workload "$workload" --port "$port" --warmup 0 \
    --duration 0.5 --connect-timeout 60 >/dev/null ||
    { echo "cpu-split: $name did not answer" >&2; cleanup; return 1; }
  local before after result ops
  before=$(cpu0_ticks)
  result=$(taskset -c "$client_cpu" "$loadgen" --workload "$workload" --port "$port" --warmup 0 \
    --duration "$seconds") || { echo "cpu-split: $name: the run failed" >&2; cleanup; return 1; }
  after=$(cpu0_ticks)
  cleanup
  ops=$(sed -n 's/.* ops=\([0-9]*\).*/\1/p' <<<"$result")
  if [ -z "$ops" ] || [ "$ops" -eq 0 ]; then
    echo "cpu-split: $name: no operations" >&2
    return 1
  fi
  local tick_ns=$((1000000000 / $(getconf CLK_TCK)))
  awk -v b="$before" -v a="$after" -v ops="$ops" -v tick="$tick_ns" 'BEGIN {
    split(b, x, " "); split(a, y, " ");
    printf "%.0f %.0f %.0f %.0f\n", (y[1] - x[1]) * tick / ops, (y[2] - x[2]) * tick / ops,
      (y[3] - x[3]) * tick / ops, (y[4] - x[4]) * tick / ops }'
}

echo "cpu-split: $workload, $placement placement, ${seconds} s x $reps, ns of CPU 0 per operation"
printf '%-28s %8s %8s %8s %8s %8s\n' server user system softirq idle total
IFS=, read -r -a names <<<"$servers"
for ((rep = 1; rep <= reps; ++rep)); do
  for name in "${names[@]}"; do
    figures=$(measure "$name") || exit 1
    echo "$name $figures" >>"$work/results"
    read -r u s q i <<<"$figures"
    printf '%-28s %8d %8d %8d %8d %8d\n' "$name" "$u" "$s" "$q" "$i" $((u + s + q))
  done
done
# The median of column COL of NAME's lines.
median() {
  awk -v name="$1" -v col="$2" '$1 == name { print $col }' "$work/results" | sort -n |
    awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
echo "medians:"
for name in "${names[@]}"; do
  u=$(median "$name" 2) s=$(median "$name" 3) q=$(median "$name" 4) i=$(median "$name" 5)
  printf '%-28s %8.0f %8.0f %8.0f %8.0f %8.0f\n' "$name" "$u" "$s" "$q" "$i" \
    "$(awk -v u="$u" -v s="$s" -v q="$q" 'BEGIN { print u + s + q }')"
done
