#!/usr/bin/env bash
# example_test.sh UWSK_RUN DRIVER PORT READY_REGEX CLIENT [ARGS...]: loads an example driver under
# uwsk-run (strict about leaks) with PORT as its Parameters\Port, waits (bounded) until its log
# matches READY_REGEX, runs the client, unloads the driver and prints the transcript. Passes only
# if both exit 0; exits 75 when the driver found the port taken (with_free_port.sh tries another).
set -u
uwsk_run=$1
driver=$2
port=$3
ready=$4
shift 4
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$uwsk_run" --strict --param-dword Port="$port" "$driver" >"$log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  grep -q -- "$ready" "$log" && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if grep -q "STATUS_ADDRESS_ALREADY_EXISTS\|cannot serve port\|cannot listen on port" "$log"; then
  wait "$server"
  cat "$log"
  exit 75
fi
client_status=0
"$@" || client_status=$?
kill -TERM "$server" 2>/dev/null
server_status=0
wait "$server" || server_status=$?
echo "== driver log =="
cat "$log"
echo "example_test: client exit $client_status, uwsk-run exit $server_status"
[ "$client_status" -eq 0 ] && [ "$server_status" -eq 0 ]
