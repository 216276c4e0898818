# installed_tree.sh: sourced by install_test.sh and package_test.sh. Checks an installed uwsk the
# way a driver developer uses it: builds a driver with pkg-config and one with find_package(uwsk)
# from a separate CMake project, runs both under the installed uwsk-run, and checks that the
# version is the project's.
#   check_installed_tree ROOT VERSION WORK
# ROOT is the installation prefix (for an unpacked Debian package, its usr/); WORK an empty
# scratch directory.
# shellcheck shell=bash

fail() {
  echo "$(basename "$0"): $*" >&2
  exit 1
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
  local here
  here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
  local uwsk_run=$root/bin/uwsk-run
  [ -x "$uwsk_run" ] || fail "no $uwsk_run"

  # pkg-config, with nothing but this tree on its search path.
  local pc
  pc=$(find "$root" -path '*/pkgconfig/uwsk-driver.pc' | head -n 1)
  [ -n "$pc" ] || fail "no uwsk-driver.pc under $root"
  local pc_dir
  pc_dir=$(dirname "$pc")
  [ "$(PKG_CONFIG_LIBDIR=$pc_dir pkg-config --modversion uwsk-driver)" = "$version" ] ||
    fail "uwsk-driver.pc's version is not $version"
  # shellcheck disable=SC2046 # pkg-config's output is a list of words
  cc -shared -fPIC "$here/drivers/hello_c.c" $(PKG_CONFIG_LIBDIR=$pc_dir pkg-config --cflags --libs uwsk-driver) \
    -o "$work/pc_driver.so" || fail "the pkg-config build failed"
  run_driver "$uwsk_run" "$work/pc_driver.so" "hello_c: DriverEntry"

  # find_package(uwsk VERSION EXACT), from a project of its own: a C and a C++ driver.
  mkdir -p "$work/consumer"
  cat >"$work/consumer/CMakeLists.txt" <<EOF
cmake_minimum_required(VERSION 3.25)
project(consumer C CXX)
find_package(uwsk $version EXACT REQUIRED)
uwsk_add_driver(hello_c $here/drivers/hello_c.c)
uwsk_add_driver(hello_cpp $here/drivers/hello_cpp.cpp)
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
  run_driver "$uwsk_run" "$work/consumer/build/drivers/hello_c.so" "hello_c: DriverEntry"
  run_driver "$uwsk_run" "$work/consumer/build/drivers/hello_cpp.so" "hello_cpp: DriverEntry"
}
