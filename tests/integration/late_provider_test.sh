#!/usr/bin/env bash
# late_provider_test.sh UWSK_RUN DRIVER PORT READY_REGEX CLIENT [ARGS...]: loads an example driver
# while the WSK subsystem is not ready yet (UWSK_PROVIDER_READY_DELAY_MS=300), under
# `uwsk-run --verify=strict` (and --strict about leaks), with PORT as its Parameters\Port ("-":
# none). The driver must find the subsystem not ready in DriverEntry (its log says so), start
# serving from its own thread once it is (READY_REGEX, waited for at most 10 s), and pass its
# real client; then it is unloaded. Passes only if the client and uwsk-run exit 0 and the
# verifier reported no rule (V5: a wait for the WSK subsystem in DriverEntry, or any other).
# Exits 75 when the driver found the port taken (with_free_port.sh tries another).
set -u
uwsk_run=$1
driver=$2
port=$3
ready=$4
shift 4
log=$(mktemp)
server=
cleanup() {
  [ -n "$server" ] && kill -KILL "$server" 2>/dev/null
  rm -f "$log"
}
trap cleanup EXIT
params=()
[ "$port" != "-" ] && params=(--param-dword Port="$port")
UWSK_PROVIDER_READY_DELAY_MS=300 "$uwsk_run" --strict --verify=strict "${params[@]}" "$driver" \
  >"$log" 2>&1 &
server=$!
for _ in $(seq 1 100); do
  grep -Eq -- "$ready" "$log" && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if grep -q "STATUS_ADDRESS_ALREADY_EXISTS\|cannot serve port\|cannot listen on port" "$log"; then
  kill -TERM "$server" 2>/dev/null
  wait "$server"
  server=
  cat "$log"
  exit 75
fi
client_status=0
timeout 50 "$@" || client_status=$?
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
echo "== driver log =="
cat "$log"
echo "late_provider_test: client exit $client_status, uwsk-run exit $server_status (124: timed out)"
result=0
if ! grep -Eq "not ready|STATUS_DEVICE_NOT_READY" "$log"; then
  echo "late_provider_test: the driver did not find the WSK subsystem not ready in DriverEntry"
  result=1
fi
if grep -Eq "verifier: rule V[0-9]+ \((error|warning)" "$log"; then
  echo "late_provider_test: the verifier reported a rule (V5: a wait for the subsystem in DriverEntry?)"
  result=1
fi
[ "$client_status" -eq 0 ] && [ "$server_status" -eq 0 ] && [ "$result" -eq 0 ]
