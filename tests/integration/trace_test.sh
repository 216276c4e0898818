#!/usr/bin/env bash
# trace_test.sh UWSK_RUN DRIVER CLIENT TRACE_CHECK PORT: runs the echo-server example under
# uwsk-run --trace twice against its real loopback client, once writing JSON and once text:
#  - the JSON passes trace_check (the Chrome trace-event format; every operation's begin has its
#    end on its socket's track; IRP completions carry status names; the calls, completions and
#    callbacks an echo exchange makes are all there);
#  - the text has a line per call, completion and callback, with the socket's endpoints and
#    status names.
# Exit 75 when the port was taken (with_free_port.sh then tries another).
set -u
uwsk_run=$1
driver=$2
client=$3
check=$4
port=$5
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
fail() {
  echo "trace_test: $*" >&2
  echo "== driver log ==" >&2
  cat "$dir/log" >&2
  exit 1
}

# run FILE: one run of the driver and the client, tracing to FILE.
run() {
  "$uwsk_run" --strict --trace "$1" --param-dword Port="$port" "$driver" >"$dir/log" 2>&1 &
  local server=$!
  for _ in $(seq 1 100); do
    grep -q "listening on \[::1\]" "$dir/log" && break
    kill -0 "$server" 2>/dev/null || break
    sleep 0.1
  done
  if grep -q "STATUS_ADDRESS_ALREADY_EXISTS\|cannot listen" "$dir/log"; then
    wait "$server"
    cat "$dir/log"
    exit 75
  fi
  local client_status=0
  "$client" "$port" >"$dir/client" 2>&1 || client_status=$?
  kill -TERM "$server" 2>/dev/null
  local server_status=0
  wait "$server" || server_status=$?
  [ "$client_status" -eq 0 ] || fail "the client failed ($client_status): $(cat "$dir/client")"
  [ "$server_status" -eq 0 ] || fail "uwsk-run exited $server_status"
}

run "$dir/trace.json"
"$check" "$dir/trace.json" WskSocket WskControlClient WskBind WskAcceptEvent WskReceiveEvent \
  WskSend WskDisconnectEvent WskDisconnect WskCloseSocket || fail "the JSON trace is not right"
grep -q ' 127.0.0.1:'"$port"' <-> 127.0.0.1:[0-9]*"' "$dir/trace.json" ||
  fail "no socket track names its endpoints"

run "$dir/trace.txt"
text=$dir/trace.txt
expect() {
  grep -qE -- "$1" "$text" || fail "the text trace has no line matching: $1"
}
expect '^# uwsk trace of uwsk-run'
expect ' call +WskSocket \[client 0x[0-9a-f]+\] family=2 type=1 protocol=6 flags=0x1 irp=0x'
expect ' complete +WskSocket \[client 0x[0-9a-f]+\] irp=0x[0-9a-f]+ status=STATUS_SUCCESS information=0x[0-9a-f]+'
expect ' call +WskBind \[socket #[0-9]+ 0x[0-9a-f]+\] local=127.0.0.1:'"$port"
expect ' event +WskAcceptEvent \[socket #[0-9]+ 0x[0-9a-f]+ 127.0.0.1:'"$port"'\]'
expect ' DISPATCH_LEVEL +event +WskReceiveEvent \[socket #[0-9]+ 0x[0-9a-f]+ 127.0.0.1:'"$port"' <-> 127.0.0.1:[0-9]+\] indicated=[0-9]+'
expect ' returned +WskReceiveEvent \[0x[0-9a-f]+\] status=STATUS_(SUCCESS|PENDING|DATA_NOT_ACCEPTED)'
expect ' call +WskSend \[socket #[0-9]+ .*\] length=[0-9]+ flags=0x0 irp=0x'
expect ' complete +WskSend \[socket #[0-9]+ .*\] irp=0x[0-9a-f]+ status=STATUS_SUCCESS information=0x[0-9a-f]+'
expect ' return +WskCloseSocket \[0x[0-9a-f]+\] irp=0x[0-9a-f]+ status=STATUS_'
echo "trace_test: JSON and text traces are right; $(grep -c ' complete ' "$text") completions in the text"
