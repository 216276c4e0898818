# shellcheck shell=bash
# netns.sh: sourced by the tests that need network namespaces of their own.
#
# netns_setup makes two namespaces joined by a veth pair on a private subnet:
#   $NETNS_A  (veth $NETNS_A_IF, $NETNS_A_ADDRESS/24)
#   $NETNS_B  (veth $NETNS_B_IF, $NETNS_B_ADDRESS/24)
# with one TCP segment per packet, loopback up in both, and an empty nftables table "inet uwsk"
# in each (netns_nft adds to it). The root namespace is not changed. Names carry the shell's
# PID, so tests can run side by side. netns_cleanup kills the processes listed in NETNS_PIDS
# and deletes both namespaces, which deletes the veth pair; netns_setup installs it as the EXIT
# trap (and exits on INT, TERM and HUP, which runs it), so every exit path cleans up. Where
# namespaces cannot be made (not root, no ip or nft, no permission), netns_setup prints the
# reason and exits 77, which ctest counts as skipped (SKIP_RETURN_CODE 77).

NETNS_A="uwsk-stress-$$-a"
NETNS_B="uwsk-stress-$$-b"
NETNS_A_IF="uwsk$$a"
NETNS_B_IF="uwsk$$b"
NETNS_A_ADDRESS=10.203.0.1
NETNS_B_ADDRESS=10.203.0.2
NETNS_PIDS=()
NETNS_MADE=()

netns_skip() {
  echo "SKIP: $*"
  exit 77
}

netns_cleanup() {
  local pid ns
  for pid in "${NETNS_PIDS[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -KILL "$pid" 2>/dev/null
      wait "$pid" 2>/dev/null
    fi
  done
  for ns in "${NETNS_MADE[@]}"; do
    ip netns delete "$ns" 2>/dev/null
  done
  NETNS_MADE=()
}

netns_setup() {
  [ "$(id -u)" -eq 0 ] || netns_skip "network namespaces need root (uid $(id -u))"
  command -v ip >/dev/null || netns_skip "no 'ip' command (iproute2)"
  command -v nft >/dev/null || netns_skip "no 'nft' command (nftables)"
  [ ${#NETNS_A_IF} -le 15 ] || netns_skip "interface name $NETNS_A_IF is too long"
  trap netns_cleanup EXIT
  trap 'exit 130' INT TERM HUP
  local error
  if ! error=$(ip netns add "$NETNS_A" 2>&1); then
    netns_skip "cannot create a network namespace: $error"
  fi
  NETNS_MADE+=("$NETNS_A")
  if ! error=$(ip netns add "$NETNS_B" 2>&1); then
    netns_skip "cannot create a second network namespace: $error"
  fi
  NETNS_MADE+=("$NETNS_B")
  if ! error=$(ip link add "$NETNS_A_IF" netns "$NETNS_A" type veth peer name \
    "$NETNS_B_IF" netns "$NETNS_B" 2>&1); then
    netns_skip "cannot create a veth pair: $error"
  fi
  if ! { ip -n "$NETNS_A" link set lo up &&
    ip -n "$NETNS_B" link set lo up &&
    ip -n "$NETNS_A" address add "$NETNS_A_ADDRESS/24" dev "$NETNS_A_IF" &&
    ip -n "$NETNS_B" address add "$NETNS_B_ADDRESS/24" dev "$NETNS_B_IF" &&
    ip -n "$NETNS_A" link set "$NETNS_A_IF" up &&
    ip -n "$NETNS_B" link set "$NETNS_B_IF" up; }; then
    netns_skip "cannot configure the veth pair"
  fi
  # One TCP segment per packet (no 64 KiB GSO packets), so that dropping a packet loses one
  # segment, as on a real link. Older kernels cannot set this; the test still works there.
  ip -n "$NETNS_A" link set dev "$NETNS_A_IF" gso_max_segs 1 2>/dev/null
  ip -n "$NETNS_B" link set dev "$NETNS_B_IF" gso_max_segs 1 2>/dev/null
  if ! error=$(ip netns exec "$NETNS_A" nft add table inet uwsk 2>&1) ||
    ! error=$(ip netns exec "$NETNS_B" nft add table inet uwsk 2>&1); then
    netns_skip "nftables does not work in a network namespace: $error"
  fi
  # Both ends report carrier (bounded: 5 s).
  for _ in $(seq 1 50); do
    if ip -n "$NETNS_A" -br link show dev "$NETNS_A_IF" | grep -qw UP &&
      ip -n "$NETNS_B" -br link show dev "$NETNS_B_IF" | grep -qw UP; then
      return 0
    fi
    sleep 0.1
  done
  echo "FAIL: the veth pair did not come up within 5 s"
  exit 1
}

# netns_nft NAMESPACE COMMAND...: an nft command in a namespace; a failure ends the test with a
# failure (the table exists, so a rule that does not load is the test's fault).
netns_nft() {
  local ns=$1
  shift
  local error
  if ! error=$(ip netns exec "$ns" nft "$@" 2>&1); then
    echo "FAIL: nft $* in $ns: $error"
    exit 1
  fi
}
