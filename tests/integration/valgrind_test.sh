#!/usr/bin/env bash
# valgrind_test.sh UWSK_RUN DRIVER SUPPRESSIONS CLIENT PORT: the echo-server example under
# valgrind's memcheck, with uwsk's suppression file, serves its real client and unloads, and
# valgrind finds nothing: `valgrind --error-exitcode=1 --leak-check=full` exits 0. Skipped (77)
# without valgrind; exit 75 when the port was taken (with_free_port.sh tries another).
set -u
uwsk_run=$1
driver=$2
suppressions=$3
client=$4
port=$5
if ! command -v valgrind >/dev/null; then
  echo "valgrind_test: valgrind is not installed; skipped"
  exit 77
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
valgrind --error-exitcode=1 --leak-check=full --suppressions="$suppressions" \
  "$uwsk_run" --strict --engine epoll --param-dword Port="$port" "$driver" >"$log" 2>&1 &
server=$!
# valgrind starts slowly: up to 60 s until the driver listens.
for _ in $(seq 1 600); do
  grep -q "listening on \[::1\]" "$log" && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if grep -q "STATUS_ADDRESS_ALREADY_EXISTS\|cannot listen" "$log"; then
  wait "$server"
  cat "$log"
  exit 75
fi
client_status=0
timeout 60 "$client" "$port" || client_status=$?
kill -TERM "$server" 2>/dev/null
server_status=0
wait "$server" || server_status=$?
cat "$log"
echo "valgrind_test: client exit $client_status, valgrind exit $server_status"
[ "$client_status" -eq 0 ] && [ "$server_status" -eq 0 ] && grep -q "ERROR SUMMARY: 0 errors" "$log"
