#!/usr/bin/env bash
# make demo: runs the echo-server driver under uwsk-run, drives it with a real client over
# IPv4 and IPv6 loopback, unloads it (strict about leaks) and prints the transcript. When a step
# fails, it says which, and prints the driver's log, which says why.
#   scripts/demo.sh [BUILD [DRIVER [PORT]]]   (default: build echo-server 20007)
# The driver listens on PORT (uwsk-run --param-dword Port=PORT). Exit 75 when PORT is taken.
set -uo pipefail
build=${1:-build}
name=${2:-echo-server}
port=${3:-20007}
driver=$build/drivers/$name.so
log=$(mktemp)
server=
cleanup() {
  [ -n "$server" ] && kill -KILL "$server" 2>/dev/null
  rm -f "$log"
}
trap cleanup EXIT

# failed STEP [STATUS]: says which step failed, prints the driver's log, and exits.
failed() {
  echo "== demo FAILED: $1 =="
  echo "== the driver's log =="
  cat "$log"
  if grep -q "STATUS_ADDRESS_ALREADY_EXISTS\|cannot listen on port" "$log"; then
    echo "== port $port is taken by another program: scripts/demo.sh $build $name OTHER_PORT =="
    exit 75
  fi
  exit "${2:-1}"
}

echo "== uwsk demo: examples/$name, a WSK driver, under uwsk-run =="
echo "\$ $build/bin/uwsk-run --strict --param-dword Port=$port $driver"
"$build/bin/uwsk-run" --strict --param-dword Port="$port" "$driver" >"$log" 2>&1 &
server=$!
# Wait (bounded) until the driver listens, or uwsk-run ends.
for _ in $(seq 1 50); do
  grep -q "listening on \[::1\]" "$log" && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if ! grep -q "listening on \[::1\]" "$log"; then
  if kill -0 "$server" 2>/dev/null; then
    failed "the driver did not start listening within 5 s"
  fi
  server_status=0
  wait "$server" || server_status=$?
  server=
  failed "uwsk-run exited with status $server_status before the driver listened"
fi
echo "== the client =="
client_status=0
"$build/bin/echo-client" "$port" || client_status=$?
kill -TERM "$server" 2>/dev/null
server_status=0
wait "$server" || server_status=$?
server=
if [ "$client_status" -ne 0 ] || [ "$server_status" -ne 0 ]; then
  failed "client exit $client_status, uwsk-run exit $server_status"
fi
echo "== the driver's log =="
cat "$log"
echo "== demo finished: two clients echoed over IPv4 and IPv6, clean unload, no leaks =="
