#!/usr/bin/env bash
# echo_unload_test.sh UWSK_RUN DRIVER PORT PEER [RUNS]: unloads an echo driver under load, RUNS
# times (default 20). Each run loads the driver under uwsk-run (strict about leaks), opens 300
# idle connections, 8 streaming and 4 churning ones with `PEER load`, waits until echoes flow,
# sends SIGINT to uwsk-run after a random pause of up to 0.2 s, and requires uwsk-run to exit 0
# (no bugcheck, no leak, DriverUnload in time) and the peer to have seen only correct echoes.
# Every wait is bounded; a run that hangs is killed and fails the test. The port (the driver's
# Parameters\Port) must be free before each run (see echo_peer_test.sh): exit 75 when it is not.
set -u
uwsk_run=$1
driver=$2
port=$3
peer=$4
runs=${5:-20}
log=$(mktemp)
peer_log=$(mktemp)
server=
peer_pid=
cleanup() {
  [ -n "$server" ] && kill -KILL "$server" 2>/dev/null
  [ -n "$peer_pid" ] && kill -KILL "$peer_pid" 2>/dev/null
  rm -f "$log" "$peer_log"
}
trap cleanup EXIT

# wait_for FILE REGEX TENTHS PID: true once FILE matches REGEX; false after TENTHS tenths of a
# second, or as soon as PID has exited.
wait_for() {
  for _ in $(seq 1 "$3"); do
    grep -q -- "$2" "$1" && return 0
    kill -0 "$4" 2>/dev/null || break
    sleep 0.1
  done
  grep -q -- "$2" "$1"
}

# wait_exit PID TENTHS: the exit status of PID, or 124 (after killing it) once TENTHS tenths of a
# second have passed.
wait_exit() {
  for _ in $(seq 1 "$2"); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$1" 2>/dev/null; then
    kill -KILL "$1" 2>/dev/null
    wait "$1" 2>/dev/null
    return 124
  fi
  wait "$1"
}

fail() {
  echo "echo_unload_test: run $run: $1"
  echo "== uwsk-run log (last 60 lines) =="
  tail -n 60 "$log"
  echo "== peer log =="
  cat "$peer_log"
  exit 1
}

for run in $(seq 1 "$runs"); do
  : >"$log"
  : >"$peer_log"
  if ! "$peer" free "$port" >"$peer_log"; then
    echo "echo_unload_test: port $port is taken by another process; not testing against it"
    exit 75
  fi
  "$uwsk_run" --strict --unload-timeout 10 --param-dword Port="$port" "$driver" >"$log" 2>&1 &
  server=$!
  if ! wait_for "$log" "listening on \[::1\]" 100 "$server"; then
    wait_exit "$server" 50
    if grep -q "cannot listen on port" "$log"; then
      cat "$log"
      exit 75
    fi
    fail "the driver did not start listening (uwsk-run exit $?)"
  fi
  "$peer" load "$port" 300 8 4 20 >"$peer_log" 2>&1 &
  peer_pid=$!
  if ! wait_for "$peer_log" "load: running" 100 "$peer_pid"; then
    fail "the load did not start"
  fi
  sleep "0.$(printf '%03d' $((RANDOM % 200)))"
  kill -INT "$server"
  wait_exit "$server" 200
  server_status=$?
  server=
  # Unloaded, the driver has reset every connection, so the peer ends at once.
  wait_exit "$peer_pid" 100
  peer_status=$?
  peer_pid=
  if [ "$server_status" -ne 0 ]; then
    fail "uwsk-run exited with $server_status after SIGINT (124: did not exit within 20 s)"
  fi
  if [ "$peer_status" -ne 0 ]; then
    fail "the peer exited with $peer_status (124: did not end within 10 s of the unload)"
  fi
  echo "run $run: $(grep -o 'I/O engine: [a-z_]*' "$log"); $(grep -o 'load: [0-9]* bytes.*' "$peer_log")"
done
echo "echo_unload_test: $runs unloads under load, uwsk-run exited 0 every time"
