#!/usr/bin/env bash
# echo_stress.sh [--no-order-check] [--netns-loss PERCENT] UWSK_RUN DRIVER CLIENT
#                [--param-dword NAME=N]... -- [CLIENT-OPTIONS...]
# Loads the pipelined echo driver under uwsk-run (strict about leaks) with a port the system
# picks, waits (bounded) until its log names the port, runs stress-client against it, stops the
# driver with SIGINT and checks: the client passed (every byte echoed, in order), uwsk-run exited
# 0, the driver's summary counts no failed connection and (unless --no-order-check) no receive or
# send that completed before an earlier-issued one (docs/design.md), and nothing leaked. The
# options before "--" go to uwsk-run, the rest to the client.
#
# By default both run on 127.0.0.1. With --netns-loss, the driver runs in a network namespace of
# its own and the client in a second one, joined by a veth pair (netns.sh), and nftables in each
# namespace drops PERCENT of the packets arriving over the veth, at random: TCP retransmits and
# the echo must still be whole. The test checks that packets were in fact dropped. Exit 77
# (skipped) where namespaces cannot be made.
set -u
here=$(cd "$(dirname "$0")" && pwd)
order_check=1
loss=
while [ $# -gt 0 ]; do
  case $1 in
  --no-order-check) order_check=0 ;;
  --netns-loss)
    loss=$2
    shift
    ;;
  *) break ;;
  esac
  shift
done
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

if [ -n "$loss" ]; then
  # shellcheck source=netns.sh
  . "$here/netns.sh"
  netns_setup # exits 77 where namespaces cannot be made
fi
log=$(mktemp)
server=
started=() # processes to kill on the way out
cleanup() {
  local pid
  for pid in "${started[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  done
  rm -f "$log"
}
in_server=()
in_client=()
host=127.0.0.1
if [ -n "$loss" ]; then
  trap 'cleanup; netns_cleanup' EXIT # (netns_setup's traps exit on INT, TERM and HUP)
  for side in A B; do
    ns_var=NETNS_$side
    if_var=NETNS_${side}_IF
    netns_nft "${!ns_var}" add chain inet uwsk loss \
      '{ type filter hook prerouting priority -300; policy accept; }'
    netns_nft "${!ns_var}" add rule inet uwsk loss iifname "${!if_var}" \
      numgen random mod 100 '<' "$loss" counter drop
  done
  in_server=(ip netns exec "$NETNS_A")
  in_client=(ip netns exec "$NETNS_B")
  host=$NETNS_A_ADDRESS
  driver_options+=(--param "Address=$host")
  echo "echo_stress: driver in $NETNS_A ($host), client in $NETNS_B" \
    "($NETNS_B_ADDRESS), ${loss}% of the packets dropped each way"
else
  trap cleanup EXIT
  trap 'exit 130' INT TERM HUP
fi

failures=()
# `ip netns exec` runs the command in its own process (no fork), so $! is uwsk-run.
"${in_server[@]}" "$uwsk_run" --strict "${driver_options[@]}" "$driver" >"$log" 2>&1 &
server=$!
started+=("$server")
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

# In the background, so that a signal to this script is handled at once (by the EXIT trap,
# which kills both) instead of after the client finishes.
"${in_client[@]}" "$client" --host "$host" --port "$port" "$@" &
client_pid=$!
started+=("$client_pid")
client_status=0
wait "$client_pid" || client_status=$?
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
if [ "$order_check" -eq 1 ]; then
  case $summary in
  *" 0 receives and 0 sends completed out of order"*) ;;
  *) failures+=("the driver saw IRPs complete out of the order they were issued in") ;;
  esac
fi
if [ -n "$loss" ]; then
  dropped=0
  for ns in "$NETNS_A" "$NETNS_B"; do
    count=$(ip netns exec "$ns" nft list chain inet uwsk loss |
      sed -n 's/.*counter packets \([0-9][0-9]*\) .*/\1/p')
    echo "echo_stress: nftables dropped ${count:-?} packets arriving in $ns"
    dropped=$((dropped + ${count:-0}))
  done
  [ "$dropped" -gt 0 ] || failures+=("nftables dropped no packet: the loss was not tested")
fi

echo "== driver log (summary, leak report) =="
grep -E "pipelined-echo|leak|leaked|uwsk-run" "$log" | tail -n 40
if [ ${#failures[@]} -ne 0 ]; then
  for f in "${failures[@]}"; do
    echo "FAIL: $f"
  done
  exit 1
fi
echo "echo_stress: PASS"
