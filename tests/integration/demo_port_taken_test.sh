#!/usr/bin/env bash
# demo_port_taken_test.sh SOURCE_DIR BUILD FREE_PORT: `make demo` with its port taken by another
# program says so: scripts/demo.sh fails (exit 75), names the step that failed, and prints the
# driver's log with the reason (STATUS_ADDRESS_ALREADY_EXISTS).
set -u
source_dir=$1
build=$2
free_port=$3
out=$(mktemp)
holder=
cleanup() {
  [ -n "$holder" ] && kill "$holder" 2>/dev/null
  rm -f "$out" "$out.port"
}
trap cleanup EXIT
"$free_port" --hold 60 >"$out.port" &
holder=$!
for _ in $(seq 1 50); do
  [ -s "$out.port" ] && break
  sleep 0.1
done
port=$(cat "$out.port")
[ -n "$port" ] || { echo "demo_port_taken_test: free-port --hold printed no port"; exit 1; }
status=0
"$source_dir/scripts/demo.sh" "$build" echo-server "$port" >"$out" 2>&1 || status=$?
cat "$out"
fail() {
  echo "demo_port_taken_test: $*"
  exit 1
}
[ "$status" -eq 75 ] || fail "demo.sh exited $status, expected 75"
grep -q "== demo FAILED: uwsk-run exited with status 3 before the driver listened ==" "$out" ||
  fail "demo.sh does not say which step failed"
grep -q "== the driver's log ==" "$out" || fail "demo.sh does not print the driver's log"
grep -q "STATUS_ADDRESS_ALREADY_EXISTS" "$out" || fail "the reason is not shown"
grep -q "port $port is taken" "$out" || fail "demo.sh does not say the port is taken"
echo "demo_port_taken_test: the failure says why"
