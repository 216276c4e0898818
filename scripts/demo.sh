#!/usr/bin/env bash
# make demo: runs the echo-server driver under uwsk-run, drives it with a real client over
# IPv4 and IPv6 loopback, unloads it (strict about leaks) and prints the transcript.
#   scripts/demo.sh [BUILD [DRIVER PORT]]   (default: build echo-server 20007)
set -euo pipefail
build=${1:-build}
name=${2:-echo-server}
port=${3:-20007}
driver=$build/drivers/$name.so
log=$(mktemp)
trap 'rm -f "$log"' EXIT

echo "== uwsk demo: examples/$name, a WSK driver, under uwsk-run =="
echo "\$ $build/bin/uwsk-run --strict $driver"
"$build/bin/uwsk-run" --strict "$driver" >"$log" 2>&1 &
server=$!
# Wait (bounded) until the driver listens.
for _ in $(seq 1 50); do
  grep -q "listening on \[::1\]" "$log" && break
  sleep 0.1
done
echo "== the client =="
client_status=0
"$build/bin/echo-client" "$port" || client_status=$?
kill -TERM "$server"
server_status=0
wait "$server" || server_status=$?
echo "== the driver's log =="
cat "$log"
if [ "$client_status" -ne 0 ] || [ "$server_status" -ne 0 ]; then
  echo "== demo FAILED: client exit $client_status, uwsk-run exit $server_status =="
  exit 1
fi
echo "== demo finished: two clients echoed over IPv4 and IPv6, clean unload, no leaks =="
