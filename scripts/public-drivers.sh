#!/usr/bin/env bash
# Builds public WSK drivers, unmodified, against a uwsk build tree (GCC and Clang, through
# uwsk-driver.pc) and runs those with a DriverEntry against loopback peers. A local check, not part
# of `make test`: it needs the sources (cloned here unless SRC names a directory that holds them as
# reinhardvz/wsk, wbenny/KSOCKET, microsoft/win-net-test), python3, and unshare for the network and
# mount namespaces (root, or unprivileged user namespaces).
#
# Usage: scripts/public-drivers.sh [BUILD_DIR]   (default: build)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
run=$build/bin/uwsk-run
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
src=${SRC:-$work/src}

if [ -z "${SRC:-}" ]; then
  mkdir -p "$src/reinhardvz" "$src/wbenny" "$src/microsoft"
  git clone -q --depth 1 https://github.com/reinhardvz/wsk "$src/reinhardvz/wsk"
  git clone -q --depth 1 https://github.com/wbenny/KSOCKET "$src/wbenny/KSOCKET"
  git clone -q --depth 1 https://github.com/microsoft/win-net-test "$src/microsoft/win-net-test"
fi

export PKG_CONFIG_PATH=$build
failures=0

# build NAME COMPILER SOURCES... [-- EXTRA_FLAGS...]
build() {
  local name=$1 cc=$2 sources=() extra=()
  shift 2
  while [ $# -gt 0 ] && [ "$1" != "--" ]; do sources+=("$1"); shift; done
  [ $# -gt 0 ] && shift && extra=("$@")
  # shellcheck disable=SC2046
  if $cc -shared -fPIC $(pkg-config --cflags uwsk-driver) "${extra[@]}" "${sources[@]}" \
      -o "$work/$name.$cc.so" $(pkg-config --libs uwsk-driver) 2>"$work/$name.$cc.log"; then
    echo "build $name ($cc): ok"
  else
    echo "build $name ($cc): FAILED"; grep -m5 error "$work/$name.$cc.log" || true
    failures=$((failures + 1))
  fi
}

# The peers, one mode each, every wait bounded.
cat >"$work/peer.py" <<'PY'
import socket, sys, time
mode, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
def connect():
    for _ in range(100):
        try:
            return socket.create_connection((host, port), timeout=5)
        except OSError:
            time.sleep(0.1)
    sys.exit("peer: no connection")
if mode == "echo":  # answers five 10-byte messages
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port)); s.listen(1); s.settimeout(20)
    c, _ = s.accept(); c.settimeout(10)
    for _ in range(5):
        data = c.recv(10); print("peer: received", data, flush=True); c.sendall(b"PEER-REPLY")
elif mode == "client":  # sends five 10-byte messages, reads each reply
    c = connect()
    for _ in range(5):
        c.sendall(b"0123456789"); print("peer: received", c.recv(10), flush=True)
elif mode == "http-then-client":  # one HTTP answer on port, then a line to 9095
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, port)); s.listen(1); s.settimeout(20)
    c, _ = s.accept(); print("peer: request", c.recv(4096), flush=True)
    c.sendall(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"uuid\": \"loopback\"}\n"); c.close()
    port = 9095; c = connect(); c.sendall(b"HELLO FROM USERMODE!\n")
    print("peer: received", c.recv(100), flush=True)
PY

# run_with_peer DRIVER UNLOAD_AFTER PEER_ARGS... : inside the namespace the caller set up.
cat >"$work/run.sh" <<'SH'
#!/bin/sh
work=$1 driver=$2 after=$3; shift 3
ip link set lo up
[ -n "${EXTRA_ADDRESS:-}" ] && ip addr add "$EXTRA_ADDRESS/32" dev lo
[ -n "${HOSTS:-}" ] && mount --bind "$HOSTS" /etc/hosts
timeout 40 python3 "$work/peer.py" "$@" & peer=$!
sleep 1
timeout 60 "$RUN" --unload-after "$after" ${EXPECT:+--expect-status "$EXPECT"} "$driver"
status=$?
wait $peer || status=1
exit $status
SH
chmod +x "$work/run.sh"
export RUN=$run

wsk=$src/reinhardvz/wsk
ks=$src/wbenny/KSOCKET/src/ksocket
wnt=$src/microsoft/win-net-test
for cc in gcc clang; do
  command -v $cc >/dev/null || continue
  build wsktcpcli $cc "$wsk"/wsktcpcli/wsktcpcli/*.c
  build wsktcpsrv $cc "$wsk"/wsktcpsrv/wsktcpsrv/*.c
  build ksocket $cc "$ks"/*.c
  build wskclient $cc "$wnt/src/wskclient/wskclient.c" -- -I"$wnt/inc"
done

echo "127.0.0.1 httpbin.org" >"$work/hosts"
for cc in gcc clang; do
  [ -f "$work/wsktcpcli.$cc.so" ] || continue
  echo "== wsktcpcli ($cc): connects to 10.10.0.246:40007"
  EXTRA_ADDRESS=10.10.0.246 unshare -rn "$work/run.sh" "$work" "$work/wsktcpcli.$cc.so" 8 \
    echo 10.10.0.246 40007 || failures=$((failures + 1))
  echo "== wsktcpsrv ($cc): listens on 40007"
  unshare -rn "$work/run.sh" "$work" "$work/wsktcpsrv.$cc.so" 4 client 127.0.0.1 40007 ||
    failures=$((failures + 1))
  echo "== KSOCKET ($cc): HTTP to httpbin.org (127.0.0.1 here), then serves 9095"
  EXPECT=STATUS_UNSUCCESSFUL HOSTS=$work/hosts unshare -rnm "$work/run.sh" "$work" \
    "$work/ksocket.$cc.so" 1 http-then-client 127.0.0.1 80 || failures=$((failures + 1))
done
echo "public-drivers: $failures failure(s)"
exit $failures
