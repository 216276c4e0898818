#!/usr/bin/env bash
# connect_netns.sh UWSK_RUN DRIVER: runs the connect_pending driver in a network namespace (A)
# against a host in a second one (B, over a veth pair; netns.sh) whose nftables input chain drops
# every TCP SYN to port 7001, and the first SYN from each source port to port 7003 (a set of the
# source ports seen), and which listens on nothing, so ports 7002 and 7003 answer with a reset
# (7003 only to the SYN retransmitted a second after the first). The driver does its checks in DriverEntry (drivers/connect_pending.c):
# connects to 7001 stay pending until IoCancelIrp and then complete once with STATUS_CANCELLED;
# connects to 7002 and 7003 fail with STATUS_CONNECTION_REFUSED (7003 while pending). Passes when
# uwsk-run exits 0, the log says "all checks passed", nothing leaked (WskDeregister returned, so
# no socket was left open), and nftables did drop SYNs. Exit 77 (skipped) where namespaces
# cannot be made.
set -u
here=$(cd "$(dirname "$0")" && pwd)
uwsk_run=$1
driver=$2
dropped_port=7001
closed_port=7002
delayed_port=7003

# shellcheck source=netns.sh
. "$here/netns.sh"
netns_setup
log=$(mktemp)
trap 'netns_cleanup; rm -f "$log"' EXIT

netns_nft "$NETNS_B" add chain inet uwsk input \
  '{ type filter hook input priority 0; policy accept; }'
netns_nft "$NETNS_B" add rule inet uwsk input tcp dport "$dropped_port" \
  tcp flags '&' '(syn | ack)' == syn counter drop
netns_nft "$NETNS_B" add set inet uwsk first_syn \
  '{ type inet_service; flags dynamic,timeout; timeout 1m; }'
netns_nft "$NETNS_B" add rule inet uwsk input tcp dport "$delayed_port" \
  tcp flags '&' '(syn | ack)' == syn tcp sport != @first_syn add @first_syn '{ tcp sport }' \
  counter drop
echo "connect_netns: driver in $NETNS_A ($NETNS_A_ADDRESS); host $NETNS_B_ADDRESS in $NETNS_B" \
  "drops SYNs to port $dropped_port, port $closed_port is closed, port $delayed_port is closed" \
  "and drops the first SYN of each connection"

ip netns exec "$NETNS_A" "$uwsk_run" --strict --unload-after 0 \
  --param "Address=$NETNS_B_ADDRESS" --param-dword "DroppedPort=$dropped_port" \
  --param-dword "ClosedPort=$closed_port" --param-dword "DelayedPort=$delayed_port" \
  --param-dword PendingMs=1000 \
  "$driver" >"$log" 2>&1 &
run=$!
NETNS_PIDS+=("$run")
status=
for _ in $(seq 1 300); do # bounded: 30 s (the checks take about 6)
  if ! kill -0 "$run" 2>/dev/null; then
    status=0
    wait "$run" || status=$?
    break
  fi
  sleep 0.1
done

failures=()
if [ -z "$status" ]; then
  failures+=("uwsk-run did not finish within 30 s")
  kill -KILL "$run" 2>/dev/null
  wait "$run" 2>/dev/null
else
  [ "$status" -eq 0 ] || failures+=("uwsk-run exited $status")
fi
grep -q "connect_pending: all checks passed" "$log" || failures+=("the driver's checks failed")
grep -q "nothing leaked" "$log" || failures+=("the leak report is not empty")
counts=$(ip netns exec "$NETNS_B" nft list chain inet uwsk input |
  sed -n 's/.*counter packets \([0-9][0-9]*\) .*/\1/p')
syns=$(echo "$counts" | sed -n 1p)
delayed=$(echo "$counts" | sed -n 2p)
echo "connect_netns: nftables dropped ${syns:-?} SYNs to port $dropped_port and ${delayed:-?}" \
  "to port $delayed_port"
[ "${syns:-0}" -gt 0 ] || failures+=("no SYN was dropped: the pending connects were not tested")

echo "== uwsk-run's log =="
cat "$log"
if [ ${#failures[@]} -ne 0 ]; then
  for f in "${failures[@]}"; do
    echo "FAIL: $f"
  done
  exit 1
fi
echo "connect_netns: PASS"
