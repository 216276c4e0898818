#!/usr/bin/env bash
# wpp_generator_test.sh TRACEWPP INCLUDE_DIR LIB_DIR: uwsk-tracewpp and the headers it writes.
# (The C++ build includes wpp_forms.c, so its configuration block is read with -scan:.)
#  - The trace-function forms of wpp_forms.c (DoTraceMessage, -func:, the source's own
#    configuration block, 0 to 6 arguments, fixed arguments, USEPREFIX/USESUFFIX, PRE/POST,
#    several control GUIDs) compile as C11 and C++17 with -Wall -Wextra -Werror under each of
#    gcc, g++, clang and clang++ found here (gcc and g++ must be), link against libuwsk, and
#    log what they should (the run-time levels, flags, WPP types and WPP_INIT_TRACING /
#    WPP_CLEANUP), and nothing they should not.
#  - tracewpp options without meaning here are ignored; files that are not C or C++ sources get
#    no header; no -odir:, a malformed FUNC or a missing file is an error (exit 1, a message).
set -euo pipefail
tracewpp=$1
include_dir=$2
lib_dir=$3
here=$(cd "$(dirname "$0")" && pwd)
fail() {
  echo "wpp_generator_test: $*" >&2
  exit 1
}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
ignored=(-km -dll -ext:.c.cpp.h -cfgdir:/nonexistent '-gen:{km-default.tpl}*.tmh' -p:forms -v -I. -defwpp:x.ini)

# Errors.
if out=$("$tracewpp" "$here/wpp_forms.c" 2>&1); then fail "no -odir: accepted"; fi
grep -q -- "-odir:" <<<"$out" || fail "no -odir: message: $out"
if out=$("$tracewpp" -odir:"$work/bad" '-func:Broken(LEVEL' "$here/wpp_forms.c" 2>&1); then
  fail "a malformed FUNC accepted"
fi
grep -q "Broken" <<<"$out" || fail "the malformed FUNC is not named: $out"
if out=$("$tracewpp" -odir:"$work/bad" "$work/missing.c" 2>&1); then fail "a missing file accepted"; fi

# Files that are not sources: no header, and no clash with the source of the same name.
printf 'resource script\n' >"$work/wpp_forms.rc"
"$tracewpp" -odir:"$work/rc" "${ignored[@]}" "$work/wpp_forms.rc" || fail "a .rc file made it fail"
[ -z "$(ls -A "$work/rc" 2>/dev/null)" ] || fail "a header was written for a .rc file: $(ls "$work/rc")"

compilers=()
for cc in gcc g++ clang clang++; do
  if command -v "$cc" >/dev/null; then
    compilers+=("$cc")
  elif [[ $cc == g* ]]; then
    fail "$cc is missing"
  fi
done
for cc in "${compilers[@]}"; do
  case $cc in
  *++) source=$here/wpp_forms.cpp std=-std=c++17 scan=-scan:$here/wpp_forms.c ;;
  *) source=$here/wpp_forms.c std=-std=c11 scan=-km ;;
  esac
  out_dir=$work/$cc
  "$tracewpp" -odir:"$out_dir" "${ignored[@]}" "$scan" '-func:CmdTrace(FLAGS,MSG,...)' "$source" "$work/wpp_forms.rc" ||
    fail "uwsk-tracewpp failed for $source"
  [ -f "$out_dir/wpp_forms.tmh" ] || fail "no wpp_forms.tmh for $source: $(ls "$out_dir")"
  "$cc" $std -Wall -Wextra -Werror -I"$out_dir" -I"$include_dir" "$source" -L"$lib_dir" -luwsk \
    -Wl,-rpath,"$lib_dir" -o "$out_dir/forms" || fail "$cc could not build $source"
  log=$(env -u UWSK_WPP_LEVEL -u UWSK_WPP_FLAGS "$out_dir/forms" 2>&1) || fail "$cc: the program failed: $log"
  expected=(
    'wpp: tracing FormsGuid at level 4 \(INFORMATION\), flags 0xFFFFFFFF$'
    'wpp: tracing OtherGuid at level 4 \(INFORMATION\), flags 0xFFFFFFFF$'
    'wpp: ERROR FLAG_ONE main wpp_forms\.c:[0-9]+: no arguments$'
    'wpp: WARNING FLAG_ONE main wpp_forms\.c:[0-9]+: one: 1$'
    'wpp: INFORMATION FLAG_TWO main wpp_forms\.c:[0-9]+: six: -2 3 text 1099511627776 FALSE AB CD$'
    'wpp: WARNING FLAG_TWO main wpp_forms\.c:[0-9]+: fixed flag, status STATUS_ACCESS_DENIED, E_FAIL, ERROR_ACCESS_DENIED$'
    'wpp: ERROR FLAG_ONE main wpp_forms\.c:[0-9]+: \[main\] code STATUS_INVALID_PARAMETER \(line [0-9]+\)$'
    'wpp: FLAG_OTHER main wpp_forms\.c:[0-9]+: other control GUID, 127\.0\.0\.1:80$'
    'wpp: FLAG_TWO main wpp_forms\.c:[0-9]+: from -func:$'
    'wpp: ERROR FLAG_ONE main wpp_forms\.c:[0-9]+: in its else$'
    '^pre 1 post 1$'
  )
  for pattern in "${expected[@]}"; do
    grep -Eq -- "$pattern" <<<"$log" || fail "$cc: no line matching '$pattern' in:
$log"
  done
  if grep -Eq 'before WPP_INIT|verbose|after WPP_CLEANUP|without braces' <<<"$log"; then
    fail "$cc: a message that must not be logged was:
$log"
  fi
  # The level and the flags from the environment.
  log=$(UWSK_WPP_LEVEL=TRACE_LEVEL_VERBOSE UWSK_WPP_FLAGS=0x2 "$out_dir/forms" 2>&1) ||
    fail "$cc: the program failed: $log"
  grep -q 'tracing FormsGuid at level 5 (VERBOSE), flags 0x00000002' <<<"$log" || fail "$cc: $log"
  grep -q 'six: -2' <<<"$log" || fail "$cc: FLAG_TWO not logged with UWSK_WPP_FLAGS=0x2: $log"
  if grep -Eq 'FLAG_ONE|FLAG_OTHER' <<<"$log"; then
    fail "$cc: a flag outside UWSK_WPP_FLAGS=0x2 was logged: $log"
  fi
  log=$(UWSK_WPP_LEVEL=ERROR "$out_dir/forms" 2>&1) || fail "$cc: the program failed: $log"
  if grep -Eq 'WARNING|INFORMATION FLAG' <<<"$log"; then
    fail "$cc: a message above UWSK_WPP_LEVEL=ERROR was logged: $log"
  fi
  grep -q 'no arguments' <<<"$log" || fail "$cc: an ERROR message missing at UWSK_WPP_LEVEL=ERROR: $log"
done
echo "wpp_generator_test: the generated headers build and trace as expected with ${compilers[*]}"
