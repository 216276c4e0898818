#!/usr/bin/env bash
# faults_replay_test.sh UWSK_RUN DRIVER PORT PEER: fault injection replays from its seed, on
# either engine. Runs the echo driver (listening on PORT) under uwsk-run three times with one
# fault plan, each time against the same peer traffic (one connection of 4096 bytes,
# `PEER stream PORT 1 4096`: with several at once, which connection meets an allocation failure
# first would depend on timing): seed 1234 on the epoll engine, seed 1234 again on the io_uring
# engine (epoll again where io_uring is unavailable), and seed 1235 on epoll. Passes only if the
# first two runs logged the same injected faults (as "faults:" lines: stream, object, draw count
# and what happened; compared as sorted sets, the draw count giving each object's order), at
# least one, and the third a different set, and if every run ended without a bug check or a leak
# (DriverEntry may fail cleanly). The peer's own result is not required (the faults reset
# connections on purpose); only that its traffic is the same.
set -u
uwsk_run=$1
driver=$2
port=$3
peer=$4
work=$(mktemp -d)
server=
cleanup() {
  [ -n "$server" ] && kill -KILL "$server" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
# Receives split into single bytes make the count of operations depend on the bytes alone, not
# on how TCP segments them; everything else is drawn per socket or per allocation.
plan='pend=all,split-receive=1,delay=0-200us,reset=0.001,forced-close=0.0005,alloc-fail=irp:0.1,mdl:0.1,pool:0.1'

run() { # run NAME SEED ENGINE
  local log=$work/$1.log
  if ! "$peer" free "$port"; then
    echo "faults_replay_test: port $port is taken by another process"
    exit 75
  fi
  UWSK_ENGINE=$3 "$uwsk_run" --strict --faults "$plan" --seed "$2" --param-dword Port="$port" \
    "$driver" >"$log" 2>&1 &
  server=$!
  for _ in $(seq 1 100); do
    grep -q "listening on \[::1\]" "$log" && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  timeout 30 "$peer" stream "$port" 1 4096 >"$work/$1.peer" 2>&1
  echo "faults_replay_test: run $1 (seed $2, $3 engine): peer exit $?"
  kill -TERM "$server" 2>/dev/null
  local status=124
  for _ in $(seq 1 200); do
    if ! kill -0 "$server" 2>/dev/null; then
      status=0
      wait "$server" || status=$?
      break
    fi
    sleep 0.1
  done
  server=
  # 3: DriverEntry failed cleanly (an injected allocation failure), which strict mode still
  # checks for leaks; anything else but 0 is a failure.
  if [ "$status" -ne 0 ] && [ "$status" -ne 3 ]; then
    echo "faults_replay_test: run $1: uwsk-run exit $status"
    tail -n 60 "$log"
    exit 1
  fi
  grep -o 'faults: .*' "$log" | grep -v 'fault plan' | sort >"$work/$1.faults"
  grep -m 1 'fault plan' "$log"
  echo "faults_replay_test: run $1: $(wc -l <"$work/$1.faults") faults"
}

# The io_uring run, where io_uring works here (uwsk-run exits 1 at once otherwise).
second_engine=uring
if ! UWSK_ENGINE=uring "$uwsk_run" --unload-after 0 --param-dword Port="$port" "$driver" \
  >"$work/probe.log" 2>&1; then
  echo "faults_replay_test: io_uring is unavailable here; the second run uses epoll too"
  second_engine=epoll
fi
run first 1234 epoll
run again 1234 "$second_engine"
run other 1235 epoll
status=0
if [ ! -s "$work/first.faults" ]; then
  echo "faults_replay_test: the plan injected no fault: nothing was compared"
  status=1
fi
if ! diff "$work/first.faults" "$work/again.faults"; then
  echo "faults_replay_test: the same seed injected different faults"
  status=1
fi
if cmp -s "$work/first.faults" "$work/other.faults"; then
  echo "faults_replay_test: another seed injected the same faults"
  status=1
fi
head -n 5 "$work/first.faults"
[ "$status" -eq 0 ] && echo "faults_replay_test: replayed"
exit "$status"
