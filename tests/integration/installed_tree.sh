# installed_tree.sh: sourced by install_test.sh and package_test.sh. Checks an installed uwsk the
# way a driver developer uses it: builds a driver with pkg-config and one with find_package(uwsk)
# from a separate CMake project (and the WPP-traced example both ways, with the installed
# uwsk-tracewpp), runs both under the installed uwsk-run, and checks that the
# version is the same everywhere.
#   check_installed_tree ROOT VERSION WORK
# ROOT is the installation prefix (for an unpacked Debian package, its usr/); WORK an empty
# scratch directory.
# shellcheck shell=bash

fail() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# A C driver that reports the version it was built against, from <uwsk/version.h>.
write_version_driver() {
  cat >"$1" <<'EOF'
#include <ntddk.h>
#include <uwsk/version.h>

#if UWSK_VERSION != UWSK_MAKE_VERSION(UWSK_VERSION_MAJOR, UWSK_VERSION_MINOR, UWSK_VERSION_PATCH)
#error "UWSK_VERSION does not match its parts"
#endif

static DRIVER_UNLOAD VersionUnload;

static VOID VersionUnload(PDRIVER_OBJECT DriverObject) {
  UNREFERENCED_PARAMETER(DriverObject);
  DbgPrint("version_driver: unloading\n");
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  PVOID block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 64, 'sreV');
  UNREFERENCED_PARAMETER(RegistryPath);
  if (block == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  ExFreePoolWithTag(block, 'sreV');
  DbgPrint("version_driver: built against uwsk %s (0x%06X)\n", UWSK_VERSION_STRING,
           (ULONG)UWSK_VERSION);
  DriverObject->DriverUnload = VersionUnload;
  return STATUS_SUCCESS;
}
EOF
}

# run_driver UWSK_RUN DRIVER PATTERN: runs DRIVER for no time, strict about leaks.
run_driver() {
  local output
  output=$("$1" --strict --unload-after 0 "$2" 2>&1) || fail "$1 $2 failed: $output"
  grep -Eq "$3" <<<"$output" || fail "$2: no '$3' in: $output"
  grep -q "nothing leaked" <<<"$output" || fail "$2: leak report not empty: $output"
}

check_installed_tree() {
  local root=$1 version=$2 work=$3
  local here example
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  example=$(cd "$here/../../examples/wpp-trace" && pwd)
  local uwsk_run=$root/bin/uwsk-run
  [ -x "$uwsk_run" ] || fail "no $uwsk_run"
  [ "$("$uwsk_run" --version)" = "uwsk-run $version" ] ||
    fail "uwsk-run --version says '$("$uwsk_run" --version)', expected 'uwsk-run $version'"
  grep -q "define UWSK_VERSION_STRING \"$version\"" "$root/include/uwsk/version.h" ||
    fail "$root/include/uwsk/version.h does not say $version"
  gzip -t "$root/share/man/man1/uwsk-run.1.gz" || fail "no man page uwsk-run(1)"

  # pkg-config, with nothing but this tree on its search path.
  local pc
  pc=$(find "$root" -path '*/pkgconfig/uwsk-driver.pc' | head -n 1)
  [ -n "$pc" ] || fail "no uwsk-driver.pc under $root"
  local pc_dir
  pc_dir=$(dirname "$pc")
  [ "$(PKG_CONFIG_LIBDIR=$pc_dir pkg-config --modversion uwsk-driver)" = "$version" ] ||
    fail "uwsk-driver.pc's version is not $version"
  write_version_driver "$work/version_driver.c"
  # shellcheck disable=SC2046 # pkg-config's output is a list of words
  cc -shared -fPIC "$work/version_driver.c" $(PKG_CONFIG_LIBDIR=$pc_dir pkg-config --cflags --libs uwsk-driver) \
    -o "$work/pc_driver.so" || fail "the pkg-config build failed"
  run_driver "$uwsk_run" "$work/pc_driver.so" "built against uwsk $version "
  # A WPP-traced driver, its .tmh headers from the installed uwsk-tracewpp.
  "$here/wpp_pkg_config_test.sh" "$pc_dir" "$uwsk_run" >"$work/wpp_pc.log" 2>&1 ||
    fail "the WPP driver built with pkg-config failed: $(cat "$work/wpp_pc.log")"

  # find_package(uwsk VERSION EXACT), from a project of its own: a C and a C++ driver.
  mkdir -p "$work/consumer"
  cat >"$work/consumer/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.25)
project(consumer C CXX)
find_package(uwsk $version EXACT REQUIRED)
uwsk_add_driver(version_driver $work/version_driver.c)
uwsk_add_driver(hello_cpp $here/drivers/hello_cpp.cpp)
uwsk_add_driver(wpp-trace $example/wpp_trace.c $example/wpp_trace_names.cpp
  WPP WPP_OPTIONS -km -scan:$example/trace.h)
EOF
  cmake -S "$work/consumer" -B "$work/consumer/build" -DCMAKE_PREFIX_PATH="$root" >"$work/cmake.log" 2>&1 ||
    fail "configuring the find_package project failed: $(cat "$work/cmake.log")"
  local found
  found=$(sed -n 's/^uwsk_DIR:PATH=//p' "$work/consumer/build/CMakeCache.txt")
  case "$found" in
  "$root"/*) ;;
  *) fail "find_package(uwsk) found $found, not the tree under $root" ;;
  esac
  cmake --build "$work/consumer/build" >"$work/build.log" 2>&1 ||
    fail "building the find_package project failed: $(cat "$work/build.log")"
  run_driver "$uwsk_run" "$work/consumer/build/drivers/version_driver.so" "built against uwsk $version "
  run_driver "$uwsk_run" "$work/consumer/build/drivers/hello_cpp.so" "hello_cpp: DriverEntry"
  "$example/wpp_trace_test.sh" "$uwsk_run" "$work/consumer/build/drivers/wpp-trace.so" \
    >"$work/wpp_cmake.log" 2>&1 || fail "the WPP driver built with find_package failed: $(cat "$work/wpp_cmake.log")"
}
