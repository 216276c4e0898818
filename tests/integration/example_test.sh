#!/usr/bin/env bash
# example_test.sh UWSK_RUN DRIVER READY_REGEX CLIENT [ARGS...]: loads an example driver under
# uwsk-run (strict about leaks), waits (bounded) until its log matches READY_REGEX, runs the
# client, unloads the driver and prints the transcript. Passes only if both exit 0.
set -u
uwsk_run=$1
driver=$2
ready=$3
shift 3
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$uwsk_run" --strict "$driver" >"$log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  grep -q -- "$ready" "$log" && break
  sleep 0.1
done
client_status=0
"$@" || client_status=$?
kill -TERM "$server" 2>/dev/null
server_status=0
wait "$server" || server_status=$?
echo "== driver log =="
cat "$log"
echo "example_test: client exit $client_status, uwsk-run exit $server_status"
[ "$client_status" -eq 0 ] && [ "$server_status" -eq 0 ]
