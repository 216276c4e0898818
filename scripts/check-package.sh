#!/usr/bin/env bash
# check-package.sh [DEB]: installs the Debian package with dpkg -i into a throwaway copy of this
# system, uses it there as a driver developer would, and removes it with dpkg -r; the system
# itself is not changed. Run as root (it needs a mount namespace and an overlay of /), after
# `make package` (DEB defaults to build-package/uwsk_*.deb).
#
# In the copy: dpkg -i (dependencies checked against this system's packages), uwsk-run
# --version, the man page, pkg-config --modversion, a driver built with pkg-config and one with
# find_package(uwsk) run under uwsk-run with an empty leak report, then dpkg -r leaves no
# uwsk file behind.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
if [ $# -gt 0 ]; then
  deb=$1
else
  deb=$(find "$here/../build-package" -maxdepth 1 -name 'uwsk_*.deb' 2>/dev/null | sort | tail -n 1)
fi
if [ -z "$deb" ] || [ ! -f "$deb" ]; then
  echo "check-package: no package given and none in build-package/ (run make package)" >&2
  exit 1
fi
deb=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
[ "$(id -u)" -eq 0 ] || {
  echo "check-package: must run as root (mount namespace, overlay of /)" >&2
  exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The driver and the CMake project built inside the copy.
cat >"$work/drv.c" <<'EOF'
#include <ntddk.h>
#include <uwsk/version.h>

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);
  DbgPrint("check-package: a driver built against the installed uwsk %s\n", UWSK_VERSION_STRING);
  return STATUS_SUCCESS;
}
EOF
cat >"$work/CMakeLists.txt" <<'EOF'
cmake_minimum_required(VERSION 3.25)
project(check_package C)
find_package(uwsk REQUIRED)
message(STATUS "check-package: find_package found uwsk ${uwsk_VERSION} in ${uwsk_DIR}")
uwsk_add_driver(drv /check/drv.c)
EOF
cat >"$work/inside.sh" <<'EOF'
set -eu
cd /check
echo "== dpkg -i $(basename "$1")"
dpkg -i "/check/$(basename "$1")"
echo "== used in place"
uwsk-run --version
man -w uwsk-run
echo "pkg-config uwsk-driver $(pkg-config --modversion uwsk-driver)"
cc -shared -fPIC drv.c $(pkg-config --cflags --libs uwsk-driver) -o pc_drv.so
uwsk-run --strict --unload-after 0 pc_drv.so 2>&1 | grep -E 'check-package|leaked'
cmake -S /check -B /check/build | grep 'check-package'
cmake --build /check/build >/dev/null
uwsk-run --strict --unload-after 0 /check/build/drivers/drv.so 2>&1 | grep -E 'check-package|leaked'
echo "== dpkg -r uwsk"
dpkg -r uwsk
left=$(find /usr -path '*uwsk*' 2>/dev/null)
[ -z "$left" ] || { echo "left behind: $left" >&2; exit 1; }
echo "no uwsk file left"
EOF
cp "$deb" "$work/"

# The copy: / as the lower layer of an overlay whose upper layer is a tmpfs, in a mount namespace
# of its own; everything written goes to the tmpfs and vanishes with the namespace.
unshare -m --propagation private bash -s "$work" "$deb" <<'EOF'
set -eu
work=$1
deb=$2
mkdir "$work/layers" "$work/root"
mount -t tmpfs tmpfs "$work/layers"
mkdir "$work/layers/upper" "$work/layers/work"
mount -t overlay overlay -o "lowerdir=/,upperdir=$work/layers/upper,workdir=$work/layers/work" "$work/root"
[ "$(findmnt -n -o FSTYPE "$work/root")" = overlay ] || { echo "no overlay at $work/root" >&2; exit 1; }
mount --bind /proc "$work/root/proc"
mount --bind /dev "$work/root/dev"
mkdir "$work/root/check"
cp "$work/drv.c" "$work/CMakeLists.txt" "$work/inside.sh" "$deb" "$work/root/check/"
chroot "$work/root" env -u CMAKE_C_COMPILER_LAUNCHER -u CMAKE_CXX_COMPILER_LAUNCHER \
  sh /check/inside.sh "$deb"
EOF
system=$(sed -n 's/^PRETTY_NAME="\(.*\)"$/\1/p' /etc/os-release)
echo "check-package: $(basename "$deb") installs, works and uninstalls on $system"
