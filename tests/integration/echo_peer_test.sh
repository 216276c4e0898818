#!/usr/bin/env bash
# echo_peer_test.sh UWSK_RUN DRIVER PORT PEER MODE [ARGS...]: loads an echo driver under uwsk-run
# (strict about leaks), listening on PORT (its Parameters\Port), runs `PEER MODE PORT ARGS...` against it (at most
# 50 s), unloads the driver with SIGTERM and passes only if the peer and uwsk-run both exit 0.
# With UWSK_EXPECT_RING_EVENTS=1 (the event driver on the io_uring engine) it also requires the
# log line saying receive events read through multishot receives, unless the log says the kernel
# lacks them.
# With UWSK_LIVE_LOG_COUNT=N and UWSK_LIVE_LOG_REGEX=RE it also requires, after the peer is done
# and before the unload, N lines matching RE in the log within 5 s while uwsk-run still runs:
# the lines a driver prints from its completion routines and callbacks (on a loop thread, whose
# DbgPrint lines go out together once per loop iteration) must not wait for the process to end.
# The port must be free first: uwsk listeners share ports with other processes of the same user,
# so a server already there would silently take part of the connections: exit 75 then, and when
# the driver finds the port taken (with_free_port.sh tries another).
set -u
uwsk_run=$1
driver=$2
port=$3
peer=$4
mode=$5
shift 5
log=$(mktemp)
server=
cleanup() {
  [ -n "$server" ] && kill -KILL "$server" 2>/dev/null
  rm -f "$log"
}
trap cleanup EXIT

if ! "$peer" free "$port"; then
  echo "echo_peer_test: port $port is taken by another process; not testing against it"
  exit 75
fi
"$uwsk_run" --strict --param-dword Port="$port" "$driver" >"$log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  grep -q "listening on \[::1\]" "$log" && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if grep -q "cannot listen on port" "$log"; then
  cat "$log"
  exit 75
fi
peer_status=0
timeout 50 "$peer" "$mode" "$port" "$@" || peer_status=$?
live_status=0
if [ -n "${UWSK_LIVE_LOG_COUNT:-}" ]; then
  live_seen=0
  for _ in $(seq 1 50); do
    live_seen=$(grep -c -E -- "$UWSK_LIVE_LOG_REGEX" "$log")
    [ "$live_seen" -ge "$UWSK_LIVE_LOG_COUNT" ] && break
    sleep 0.1
  done
  if [ "$live_seen" -lt "$UWSK_LIVE_LOG_COUNT" ]; then
    echo "echo_peer_test: $live_seen lines match '$UWSK_LIVE_LOG_REGEX' while the server runs," \
      "not $UWSK_LIVE_LOG_COUNT"
    live_status=1
  fi
fi
kill -TERM "$server" 2>/dev/null
server_status=124
for _ in $(seq 1 200); do
  if ! kill -0 "$server" 2>/dev/null; then
    server_status=0
    wait "$server" || server_status=$?
    break
  fi
  sleep 0.1
done
server=
if [ "$peer_status" -ne 0 ] || [ "$server_status" -ne 0 ] || [ "$live_status" -ne 0 ]; then
  echo "== driver log (last 80 lines) =="
  tail -n 80 "$log"
else
  echo "== driver log (the engine, and the end) =="
  grep -m 1 "I/O engine" "$log"
  tail -n 3 "$log"
fi
ring_status=0
if [ "${UWSK_EXPECT_RING_EVENTS:-0}" = 1 ]; then
  if grep -q "multishot receives into provided buffers are unavailable" "$log"; then
    grep -m 1 "multishot receives into provided buffers are unavailable" "$log"
  elif grep -q "receive events read through multishot receives" "$log"; then
    grep -m 1 "receive events read through multishot receives" "$log"
  else
    echo "echo_peer_test: receive events did not read through multishot receives"
    ring_status=1
  fi
fi
echo "echo_peer_test: peer exit $peer_status, uwsk-run exit $server_status (124: timed out)"
[ "$peer_status" -eq 0 ] && [ "$server_status" -eq 0 ] && [ "$ring_status" -eq 0 ] &&
  [ "$live_status" -eq 0 ]
