#!/usr/bin/env bash
# bench.ports.concurrent: two benchmark runs at the same time, on the servers of verify.conf's
# control (right-echo), must both pass, each on a port of its own.
# Usage: concurrent_runs_test.sh BIN_DIR VERIFY_CONF WORK_DIR
set -u -o pipefail
bin=$1 servers=$2 work=$3
rm -rf "$work" && mkdir -p "$work" || exit 1

pids=()
for run in a b; do
  # The workloads that start the server most often and use both TCP and UDP; a 0.5 s window,
  # so that the two runs' servers are up at the same time.
  timeout 90 "$bin/uwsk-bench-runner" --quick --placements same --duration 0.5 --bin "$bin" \
    --servers "$servers" --only right-echo --workloads pp1,udp,accept --out "$work/$run" \
    --work "$work/$run/work" >"$work/$run.log" 2>&1 &
  pids+=($!)
done
status=0
for i in 0 1; do
  wait "${pids[$i]}" || { echo "run $i failed:"; cat "$work/$([ "$i" = 0 ] && echo a || echo b).log"; status=1; }
done
[ "$status" = 0 ] || exit 1

port_of() { sed -n 's/^runner: .* port \([0-9]*\), work directory .*/\1/p' "$work/$1.log"; }
a=$(port_of a) b=$(port_of b)
echo "run a: port $a; run b: port $b"
if [ -z "$a" ] || [ -z "$b" ] || [ "$a" = "$b" ]; then
  echo "the two runs did not report two different ports"
  exit 1
fi
for run in a b; do
  grep -q "0 of [0-9]* measurements failed" "$work/$run.log" || { cat "$work/$run.log"; exit 1; }
done
echo "both runs passed"
