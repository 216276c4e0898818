#!/usr/bin/env bash
# example.http_get: runs the http-get driver under uwsk-run against http-server on loopback.
# The driver does all its work in DriverEntry, so each run unloads it at once (--unload-after 0)
# and --strict turns any leak into a failure. Runs: localhost (resolved by WskGetAddressInfo),
# a missing page (404), the numeric hosts 127.0.0.1 and ::1, a response larger than the driver
# keeps, then failures DriverEntry must report: a refused connection, a name that cannot
# resolve, a malformed Path, a WSK subsystem not ready yet and a Port of the wrong registry type.
#   http_get_test.sh UWSK_RUN DRIVER SERVER
set -u
uwsk_run=$1
driver=$2
server=$3

work=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  rm -rf "$work"
}
trap cleanup EXIT

failures=0
fail() {
  echo "FAIL: $*"
  failures=$((failures + 1))
}

# run NAME EXIT PATTERN [PATTERN...] -- UWSK-RUN-ARGUMENTS...
# Runs the driver (bounded by `timeout`), checks uwsk-run's exit status, that each extended
# regular expression appears in its log and that the verifier reported nothing.
run() {
  local name=$1 expected=$2
  shift 2
  local patterns=()
  while [ "$1" != "--" ]; do
    patterns+=("$1")
    shift
  done
  shift
  local log=$work/$name.log status=0
  timeout 20 "$uwsk_run" --strict --unload-after 0 "$@" "$driver" >"$log" 2>&1 || status=$?
  local ok=1
  if grep -q "verifier: rule" "$log"; then
    fail "$name: the verifier reported a rule"
    ok=0
  fi
  if [ "$status" -ne "$expected" ]; then
    fail "$name: uwsk-run exited $status, expected $expected"
    ok=0
  fi
  for pattern in "${patterns[@]}"; do
    if ! grep -Eq -- "$pattern" "$log"; then
      fail "$name: no line matches '$pattern'"
      ok=0
    fi
  done
  if [ "$ok" -eq 1 ]; then
    echo "ok: $name"
  else
    echo "---- $name: uwsk-run $* $driver"
    cat "$log"
    echo "----"
  fi
}

# A name /etc/hosts gives 127.0.0.1 and nothing else, if the machine has one besides localhost
# (which WSK answers without the hosts file): WskGetAddressInfo finds it through getaddrinfo.
hosts_name=
while read -r address names; do
  [ "$address" = "127.0.0.1" ] || continue
  for name in $names; do
    case $name in
    \#*) break ;;
    localhost | localhost.*) continue ;;
    esac
    if [ "$(getent ahostsv4 "$name" 2>/dev/null | awk '{print $1}' | sort -u)" = "127.0.0.1" ] &&
      ! getent ahostsv6 "$name" 2>/dev/null | grep -qv '^::ffff:127\.0\.0\.1 '; then
      hosts_name=$name
      break 2
    fi
  done
done </etc/hosts

requests=5
[ -n "$hosts_name" ] && requests=6
"$server" --requests "$requests" --timeout 50 >"$work/server.out" 2>"$work/server.log" &
server_pid=$!
port=
for _ in $(seq 1 100); do
  port=$(sed -n 's/^listening \([0-9][0-9]*\)$/\1/p' "$work/server.out")
  [ -n "$port" ] && break
  kill -0 "$server_pid" 2>/dev/null || break
  sleep 0.1
done
if [ -z "$port" ]; then
  echo "FAIL: http-server did not start"
  cat "$work/server.log"
  exit 1
fi
echo "http-server listening on port $port"
have_ipv6=1
if grep -q "IPv4 only" "$work/server.log"; then
  have_ipv6=0
fi

# "localhost" is ::1 then 127.0.0.1 for WSK; the first address that accepts serves the page.
run localhost 0 "http-get: connected to " "http-get: HTTP/1.1 200 OK$" \
  "http-get: received [0-9]+ bytes: header [0-9]+, body [0-9]+" "DriverUnload returned" \
  "nothing leaked" \
  -- --param Host=localhost --param-dword "Port=$port" --param Path=/
run missing 0 "http-get: HTTP/1.1 404 Not Found$" "nothing leaked" \
  -- --param Host=localhost --param-dword "Port=$port" --param Path=/missing
run ipv4 0 "http-get: connected to 127\.0\.0\.1:$port$" "http-get: HTTP/1.1 200 OK$" \
  "nothing leaked" \
  -- --param Host=127.0.0.1 --param-dword "Port=$port" --param Path=/
if [ "$have_ipv6" -eq 1 ]; then
  run ipv6 0 "http-get: connected to \[::1\]:$port$" "http-get: HTTP/1.1 200 OK$" \
    "nothing leaked" \
    -- --param Host=::1 --param-dword "Port=$port" --param Path=/
else
  echo "skip: ipv6 (no ::1 on this machine)"
  # Keep the request count: the server waits for exactly $requests.
  run ipv6-substitute 0 "http-get: HTTP/1.1 200 OK$" \
    -- --param Host=127.0.0.1 --param-dword "Port=$port" --param Path=/
fi
if [ -n "$hosts_name" ]; then
  run hosts-file 0 "http-get: connected to 127\.0\.0\.1:$port$" "http-get: HTTP/1.1 200 OK$" \
    "nothing leaked" \
    -- --param "Host=$hosts_name" --param-dword "Port=$port" --param Path=/
else
  echo "skip: hosts-file (no name in /etc/hosts for 127.0.0.1 alone besides localhost)"
fi
# 200000 body bytes: more than the 64 KiB the driver keeps, all counted.
run big 0 "http-get: HTTP/1.1 200 OK$" "http-get: received [0-9]+ bytes: header [0-9]+, body 200000$" \
  "nothing leaked" \
  -- --param Host=localhost --param-dword "Port=$port" --param Path=/big

# The server exits after its requests; wait for it (its own --timeout bounds this).
server_status=0
wait "$server_pid" || server_status=$?
server_pid=
if [ "$server_status" -ne 0 ]; then
  fail "http-server exited $server_status"
fi
# The Host header carries the port (not 80) and brackets an IPv6 literal.
grep -q "GET / HTTP/1.1 (Host: localhost:$port) -> 200 OK" "$work/server.log" ||
  fail "the server saw no 'Host: localhost:$port'"
if [ "$have_ipv6" -eq 1 ]; then
  grep -q "(Host: \[::1\]:$port)" "$work/server.log" || fail "the server saw no 'Host: [::1]:$port'"
fi

# Nothing listens on the port any more.
run refused 0 "cannot connect to 127\.0\.0\.1:$port: 0xC0000236" "as expected" \
  -- --expect-status STATUS_CONNECTION_REFUSED --param Host=127.0.0.1 --param-dword "Port=$port"
run unresolvable 3 "http-get: cannot resolve no-such-host\.invalid" "http-get: failed" \
  -- --param Host=no-such-host.invalid --param-dword "Port=$port"
run bad-path 0 "Path must start with '/'" "as expected" \
  -- --expect-status STATUS_INVALID_PARAMETER --param Path=index.html
# The WSK subsystem not ready yet (injected): DriverEntry does not wait for it, but fails.
run not-ready 0 "http-get: the WSK subsystem is not ready yet" "as expected" "nothing leaked" \
  -- --expect-status STATUS_DEVICE_NOT_READY --faults provider-not-ready=10000ms \
  --param Host=127.0.0.1 --param-dword "Port=$port"
run port-not-dword 0 "cannot read .*Parameters" "as expected" \
  -- --expect-status STATUS_OBJECT_TYPE_MISMATCH --param Port=80

echo "== http-server's log =="
cat "$work/server.log"
if [ "$failures" -ne 0 ]; then
  echo "example.http_get: $failures failure(s)"
  exit 1
fi
echo "example.http_get: all runs passed"
