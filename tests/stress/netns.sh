# netns.sh: sourced by the tests that need network namespaces of their own.
#
# netns_setup makes two namespaces joined by a veth pair on a private subnet:
#   $NETNS_SERVER  (veth $NETNS_SERVER_IF, $NETNS_SERVER_ADDRESS/24)
#   $NETNS_CLIENT  (veth $NETNS_CLIENT_IF, $NETNS_CLIENT_ADDRESS/24)
# (one TCP segment per packet) with loopback up in both, and an empty nftables table "inet uwsk" in each (netns_nft adds to
# it). The root namespace is not changed. Names carry the shell's PID, so tests can run side
# by side. netns_cleanup kills the processes the test started inside them (the PIDs in
# NETNS_PIDS) and deletes both namespaces, which deletes the veth pair; netns_setup installs it
# as the EXIT trap (and exits on INT, TERM and HUP, which runs it), so every exit path cleans up.
# Where namespaces cannot be made (not root, no ip or nft, no permission), netns_setup prints
# the reason and exits 77, which ctest counts as skipped (SKIP_RETURN_CODE 77).

NETNS_SERVER="uwsk-stress-$$-s"
NETNS_CLIENT="uwsk-stress-$$-c"
NETNS_SERVER_IF="uwsk$$s"
NETNS_CLIENT_IF="uwsk$$c"
NETNS_SERVER_ADDRESS=10.203.0.1
NETNS_CLIENT_ADDRESS=10.203.0.2
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
  [ ${#NETNS_SERVER_IF} -le 15 ] || netns_skip "interface name $NETNS_SERVER_IF is too long"
  trap netns_cleanup EXIT
  trap 'exit 130' INT TERM HUP
  local error
  if ! error=$(ip netns add "$NETNS_SERVER" 2>&1); then
    netns_skip "cannot create a network namespace: $error"
  fi
  NETNS_MADE+=("$NETNS_SERVER")
  if ! error=$(ip netns add "$NETNS_CLIENT" 2>&1); then
    netns_skip "cannot create a second network namespace: $error"
  fi
  NETNS_MADE+=("$NETNS_CLIENT")
  if ! error=$(ip link add "$NETNS_SERVER_IF" netns "$NETNS_SERVER" type veth peer name \
    "$NETNS_CLIENT_IF" netns "$NETNS_CLIENT" 2>&1); then
    netns_skip "cannot create a veth pair: $error"
  fi
  ip -n "$NETNS_SERVER" link set lo up &&
    ip -n "$NETNS_CLIENT" link set lo up &&
    ip -n "$NETNS_SERVER" address add "$NETNS_SERVER_ADDRESS/24" dev "$NETNS_SERVER_IF" &&
    ip -n "$NETNS_CLIENT" address add "$NETNS_CLIENT_ADDRESS/24" dev "$NETNS_CLIENT_IF" &&
    ip -n "$NETNS_SERVER" link set "$NETNS_SERVER_IF" up &&
    ip -n "$NETNS_CLIENT" link set "$NETNS_CLIENT_IF" up ||
    netns_skip "cannot configure the veth pair"
  # One TCP segment per packet (no 64 KiB GSO packets), so that dropping a packet loses one
  # segment, as on a real link. Older kernels cannot set this; the test still works there.
  ip -n "$NETNS_SERVER" link set dev "$NETNS_SERVER_IF" gso_max_segs 1 2>/dev/null
  ip -n "$NETNS_CLIENT" link set dev "$NETNS_CLIENT_IF" gso_max_segs 1 2>/dev/null
  if ! error=$(ip netns exec "$NETNS_SERVER" nft add table inet uwsk 2>&1) ||
    ! error=$(ip netns exec "$NETNS_CLIENT" nft add table inet uwsk 2>&1); then
    netns_skip "nftables does not work in a network namespace: $error"
  fi
  # Both ends report carrier (bounded: 5 s).
  local i
  for i in $(seq 1 50); do
    if ip -n "$NETNS_SERVER" -br link show dev "$NETNS_SERVER_IF" | grep -qw UP &&
      ip -n "$NETNS_CLIENT" -br link show dev "$NETNS_CLIENT_IF" | grep -qw UP; then
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
