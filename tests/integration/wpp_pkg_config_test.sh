#!/usr/bin/env bash
# wpp_pkg_config_test.sh PC_DIR UWSK_RUN: the WPP recipe for drivers built with pkg-config, as the
# README gives it: uwsk-tracewpp (pkg-config --variable=tracewpp uwsk-driver) writes the .tmh
# headers of the wpp-trace example, whose C and C++ sources are then compiled with the
# uwsk-driver flags and linked; the driver runs under UWSK_RUN and its messages are checked
# (examples/wpp-trace/wpp_trace_test.sh). PC_DIR holds the uwsk-driver.pc to use (the build
# tree's or an installed one); nothing else is on pkg-config's path.
set -euo pipefail
pc_dir=$1
uwsk_run=$2
here=$(cd "$(dirname "$0")" && pwd)
example=$(cd "$here/../../examples/wpp-trace" && pwd)
fail() {
  echo "wpp_pkg_config_test: $*" >&2
  exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export PKG_CONFIG_LIBDIR=$pc_dir
unset PKG_CONFIG_PATH
tracewpp=$(pkg-config --variable=tracewpp uwsk-driver)
[ -x "$tracewpp" ] || fail "pkg-config names '$tracewpp' as uwsk-tracewpp, which is not a program"
"$tracewpp" -odir:"$work/tmh" -km -scan:"$example/trace.h" -cfgdir:unused '-gen:{km-default.tpl}*.tmh' \
  "$example/wpp_trace.c" "$example/wpp_trace_names.cpp" || fail "uwsk-tracewpp failed"
for header in wpp_trace.tmh wpp_trace_names.tmh; do
  [ -f "$work/tmh/$header" ] || fail "uwsk-tracewpp did not write $header: $(ls "$work/tmh")"
done
# shellcheck disable=SC2046 # pkg-config's output is a list of words
cc -c -fPIC -I"$work/tmh" "$example/wpp_trace.c" $(pkg-config --cflags uwsk-driver) -o "$work/c.o" ||
  fail "compiling wpp_trace.c failed"
# shellcheck disable=SC2046
c++ -c -fPIC -I"$work/tmh" "$example/wpp_trace_names.cpp" $(pkg-config --cflags uwsk-driver) \
  -o "$work/cpp.o" || fail "compiling wpp_trace_names.cpp failed"
mkdir "$work/drivers"
# shellcheck disable=SC2046
c++ -shared "$work/c.o" "$work/cpp.o" $(pkg-config --libs uwsk-driver) -o "$work/drivers/wpp-trace.so" ||
  fail "linking failed"
"$example/wpp_trace_test.sh" "$uwsk_run" "$work/drivers/wpp-trace.so"
echo "wpp_pkg_config_test: a WPP-traced driver built with uwsk-tracewpp and pkg-config logs its messages"
