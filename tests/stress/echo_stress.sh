#!/usr/bin/env bash
# echo_stress.sh UWSK_RUN DRIVER CLIENT [--param-dword NAME=N]... -- [CLIENT-OPTIONS...]
# Loads the pipelined echo driver under uwsk-run (strict about leaks) on 127.0.0.1 with a port
# the system picks, waits (bounded) until its log names the port, runs stress-client against it,
# stops the driver with SIGINT and checks: the client passed (every byte echoed in order),
# uwsk-run exited 0, the driver's summary counts no failed connection and no receive or send
# that completed before an earlier-issued one (docs/design.md), and nothing leaked. The driver options before "--" go to
# uwsk-run, the rest to the client.
set -u
uwsk_run=$1
driver=$2
client=$3
shift 3
driver_options=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  driver_options+=("$1")
  shift
done
[ $# -gt 0 ] && shift

log=$(mktemp)
server=
cleanup() {
  if [ -n "$server" ] && kill -0 "$server" 2>/dev/null; then
    kill -KILL "$server" 2>/dev/null
    wait "$server" 2>/dev/null
  fi
  rm -f "$log"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

failures=()
"$uwsk_run" --strict "${driver_options[@]}" "$driver" >"$log" 2>&1 &
server=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/.*pipelined-echo: listening on .* port \([0-9][0-9]*\) .*/\1/p' "$log")
  [ -n "$port" ] && break
  kill -0 "$server" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "FAIL: the driver did not start listening within 10 s"
  cat "$log"
  exit 1
fi

client_status=0
"$client" --port "$port" "$@" || client_status=$?
[ "$client_status" -eq 0 ] || failures+=("stress-client exited $client_status")

# SIGINT unloads the driver; bounded wait, then SIGKILL.
kill -INT "$server" 2>/dev/null
server_status=
for _ in $(seq 1 300); do
  if ! kill -0 "$server" 2>/dev/null; then
    server_status=0
    wait "$server" || server_status=$?
    break
  fi
  sleep 0.1
done
if [ -z "$server_status" ]; then
  failures+=("uwsk-run did not exit within 30 s of SIGINT")
  kill -KILL "$server" 2>/dev/null
  wait "$server" 2>/dev/null
  server_status=killed
fi
server=
[ "$server_status" = 0 ] || failures+=("uwsk-run exited $server_status")
grep -q "nothing leaked" "$log" || failures+=("the leak report is not empty")
summary=$(grep "pipelined-echo: summary:" "$log")
case $summary in
*" 0 failed,"*) ;;
*) failures+=("the driver's summary counts failed connections (or is missing)") ;;
esac
case $summary in
*" 0 receives and 0 sends completed out of order"*) ;;
*) failures+=("the driver saw IRPs complete out of the order they were issued in") ;;
esac

echo "== driver log (connection lines, summary, leak report) =="
grep -v "^\s*$" "$log" | grep -E "pipelined-echo|leak|leaked|uwsk-run" | tail -n 40
if [ ${#failures[@]} -ne 0 ]; then
  for f in "${failures[@]}"; do
    echo "FAIL: $f"
  done
  exit 1
fi
echo "echo_stress: PASS"
