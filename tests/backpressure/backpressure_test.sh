#!/usr/bin/env bash
# backpressure_test.sh UWSK_RUN ECHO_SERVER PORT CLIENT [CLIENT_ARGS...]: loads the echo-server
# driver (listening on PORT, its Parameters\Port) under uwsk-run, strict about leaks, waits (bounded) until it
# listens, runs the backpressure client against it with the server's pid (and CLIENT_ARGS),
# unloads the driver and prints the transcript. Passes only if both exit 0 and the server itself
# served every connection.
#
# uwsk lets processes of the same user share a port (its listeners set SO_REUSEPORT:
# docs/divergences.md), so a second echo server on PORT would take some of the connections and
# this server's memory would say nothing about them: the port must be free before the start, and
# the server's log must show every connection the client made (a warm-up and four). Exit 75 when
# the port is taken (with_free_port.sh tries another).
set -u
uwsk_run=$1
driver=$2
port=$3
client=$4
shift 4
hex_port=$(printf '%04X' "$port")
if cat /proc/net/tcp /proc/net/tcp6 2>/dev/null | awk -v p=":$hex_port" \
    '$2 ~ p"$" && $4 == "0A" { found = 1 } END { exit !found }'; then
  echo "backpressure_test: another process listens on port $port"
  exit 75
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$uwsk_run" --strict --param-dword Port="$port" "$driver" >"$log" 2>&1 &
server=$!
ready=0
for _ in $(seq 1 100); do
  if grep -q -- "listening on \[::1\] port $port" "$log"; then
    ready=1
    break
  fi
  if ! kill -0 "$server" 2>/dev/null; then
    break
  fi
  sleep 0.1
done
client_status=1
if [ "$ready" -eq 1 ]; then
  client_status=0
  "$client" --pid "$server" --port "$port" --connections 4 --mib 64 "$@" || client_status=$?
elif grep -q "cannot listen on port" "$log"; then
  wait "$server"
  cat "$log"
  exit 75
else
  echo "backpressure_test: the server did not start listening"
fi
kill -TERM "$server" 2>/dev/null
server_status=0
wait "$server" || server_status=$?
echo "== driver log (connection lines left out) =="
grep -v -E "echo-server: connection [0-9]+" "$log"
served=$(grep -c -E "echo-server: connection [0-9]+ from" "$log")
echo "backpressure_test: the server accepted $served connections (expected 5)"
echo "backpressure_test: client exit $client_status, uwsk-run exit $server_status"
[ "$client_status" -eq 0 ] && [ "$server_status" -eq 0 ] && [ "$served" -eq 5 ]
