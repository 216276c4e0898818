#!/usr/bin/env bash
# bench/profile.sh SERVER [WORKLOAD] [SECONDS] [BUILD_DIR]
#
# Where a server's time goes, without a hardware PMU: runs SERVER (a name from
# bench/servers.conf) under valgrind's callgrind, drives it with the load generator (WORKLOAD,
# default pp64, for SECONDS, default 5), with instrumentation switched on only for the measured
# window, and prints the user-space instructions per operation and the functions that execute
# most of them, then, for a uwsk server, what each call its driver makes into uwsk costs
# (bench/profile_calls.py). Built programs come from BUILD_DIR (default build-release, see
# bench/run.sh).
# The callgrind output stays in /tmp/uwsk-profile.<pid>/ for callgrind_annotate or kcachegrind.
# The server listens on a port of this run's own (uwsk-bench-port gives it, as a benchmark run
# gets one), so a profile can run beside `make bench`, the tests or another profile.
set -u -o pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
server=${1:?usage: bench/profile.sh SERVER [WORKLOAD] [SECONDS] [BUILD_DIR]}
workload=${2:-pp64}
seconds=${3:-5}
build=${4:-$root/build-release}
# shellcheck source=bench/server-line.sh
. "$root/bench/server-line.sh"
bench_own_port "$build" "$root/bench/profile.sh" "$@"
port=$UWSK_BENCH_PORT
work=/tmp/uwsk-profile.$$
mkdir -p "$work"

for tool in valgrind callgrind_control callgrind_annotate; do
  command -v "$tool" >/dev/null || { echo "profile: $tool is missing (Debian: valgrind)"; exit 1; }
done

bench_server_command "$server" "$build" "$port" "$work/driver.log" || exit 1
# valgrind cannot follow io_uring (the kernel writes the rings behind its back): uwsk refuses
# --engine uring under valgrind, so uwsk servers are profiled on their epoll-engine line.
for word in "${bench_command[@]}"; do
  if [ "$word" = uring ]; then
    echo "profile: valgrind cannot follow io_uring; profile the server's epoll-engine line"
    exit 1
  fi
done
# The server runs on CPU 0 and the load generator on CPU 1, as in the "split" placement.
env "${bench_env[@]}" taskset -c 0 valgrind --tool=callgrind --instr-atstart=no \
  --callgrind-out-file="$work/callgrind.out" "${bench_command[@]}" >"$work/server.log" 2>&1 &
server_pid=$!
cleanup() {
  kill "$server_pid" 2>/dev/null
  wait "$server_pid" 2>/dev/null
}
trap cleanup EXIT

loadgen=$build/bin/uwsk-bench-loadgen
# A first pass warms the server up (its first connections, allocations) uninstrumented.
taskset -c 1 "$loadgen" --workload "$workload" --port "$port" --warmup 0 --duration 1 \
  --connect-timeout 60 >/dev/null || { echo "profile: the server did not answer"; exit 1; }
callgrind_control -i on "$server_pid" >/dev/null 2>&1
result=$(taskset -c 1 "$loadgen" --workload "$workload" --port "$port" --warmup 0 \
  --duration "$seconds")
callgrind_control -i off "$server_pid" >/dev/null 2>&1
cleanup
trap - EXIT

ops=$(sed -n 's/.* ops=\([0-9]*\).*/\1/p' <<<"$result")
total=$(callgrind_annotate "$work"/callgrind.out* 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
echo "profile: $server, $workload: $result"
if [ -n "$ops" ] && [ "$ops" -gt 0 ] && [ -n "$total" ]; then
  echo "profile: $total instructions for $ops operations (connection set-up included): $((total / ops)) per operation"
fi
callgrind_annotate --threshold=95 "$work"/callgrind.out* 2>/dev/null | sed -n '/^Ir/,$p' | head -40
if [ -n "$ops" ] && [ "$ops" -gt 0 ] && command -v python3 >/dev/null; then
  # What each call the driver makes into uwsk costs (bench/profile_calls.py; uwsk servers only).
  calls=$(callgrind_annotate --inclusive=yes --tree=calling --threshold=100 "$work"/callgrind.out* \
    2>/dev/null | python3 "$root/bench/profile_calls.py" "$ops" "$build/drivers/" 2>/dev/null)
  if [ -n "$calls" ]; then
    echo "profile: the driver's calls into uwsk, inclusive (a call that completed an IRP at once"
    echo "profile: includes the completion routine it ran), per operation:"
    echo "$calls"
  fi
fi
echo "profile: the server listened on port $port"
echo "profile: callgrind output in $work"
