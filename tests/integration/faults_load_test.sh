#!/usr/bin/env bash
# faults_load_test.sh UWSK_RUN DRIVER PORT PEER: an echo driver under injected failures (the
# plan is in UWSK_FAULTS and UWSK_SEED) survives load and unloads cleanly. Loads DRIVER under
# uwsk-run (strict about leaks), runs `PEER load PORT 30 2 2 20` (30 idle, 2 streaming and 2
# churning connections; resets and refused connections count as expected, every echoed byte is
# checked), unloads the driver with SIGINT after 2 s and passes only if uwsk-run exits 0 (no bug
# check, no leak, DriverUnload in time) and the peer saw only correct echoes and every
# connection ended. Every wait is bounded.
set -u
uwsk_run=$1
driver=$2
port=$3
peer=$4
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

if ! "$peer" free "$port"; then
  echo "faults_load_test: port $port is taken by another process; not testing against it"
  exit 75
fi
"$uwsk_run" --strict --unload-timeout 10 --param-dword Port="$port" "$driver" >"$log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  grep -q "listening on \[::1\]" "$log" && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
"$peer" load "$port" 30 2 2 20 >"$peer_log" 2>&1 &
peer_pid=$!
sleep 2
kill -INT "$server" 2>/dev/null
wait_exit "$server" 200
server_status=$?
server=
wait_exit "$peer_pid" 100
peer_status=$?
peer_pid=
grep -m 1 "fault plan" "$log"
grep -c "faults: " "$log" | sed 's/^/faults_load_test: log lines about faults: /'
tail -n 2 "$peer_log"
if [ "$server_status" -ne 0 ] || [ "$peer_status" -ne 0 ]; then
  echo "== uwsk-run log (last 60 lines) =="
  tail -n 60 "$log"
  echo "== peer log =="
  tail -n 20 "$peer_log"
fi
echo "faults_load_test: uwsk-run exit $server_status, peer exit $peer_status (124: timed out)"
[ "$server_status" -eq 0 ] && [ "$peer_status" -eq 0 ]
