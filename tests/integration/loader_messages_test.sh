#!/usr/bin/env bash
# loader_messages_test.sh UWSK_RUN FAILING_DRIVER: uwsk-run's failures say why, once, briefly:
#  - a Windows PE image (a .sys starting with "MZ") is recognised, and answered with one
#    sentence saying uwsk runs drivers built from their sources (exit 2);
#  - a file that is no driver, and a DriverEntry that fails, are reported once, whether the log
#    is stderr or a file (then the error is on stderr once and in the file once);
#  - numbers out of range on the command line get a message of a line or two (exit 1).
set -u
uwsk_run=$1
failing_driver=$2
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
status=0
fail() {
  echo "loader_messages_test: $*" >&2
  status=1
}
# check NAME EXIT PATTERN COUNT COMMAND...: COMMAND exits EXIT and its output has exactly COUNT
# lines matching PATTERN.
check() {
  local name=$1 expected=$2 pattern=$3 count=$4
  shift 4
  local output code=0
  output=$("$@" 2>&1) || code=$?
  printf '== %s (exit %s)\n%s\n' "$name" "$code" "$output"
  [ "$code" -eq "$expected" ] || fail "$name: exit $code, expected $expected"
  local found
  found=$(grep -cE -- "$pattern" <<<"$output")
  [ "$found" -eq "$count" ] || fail "$name: $found lines match /$pattern/, expected $count"
}

printf 'MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00' >"$dir/driver.sys"
head -c 512 /dev/zero >>"$dir/driver.sys"
check pe_image 2 "is a Windows driver image \(PE\); uwsk runs drivers built from their sources" 1 \
  "$uwsk_run" "$dir/driver.sys"

echo "not a driver" >"$dir/notes.so"
check not_a_driver_once 2 "is not a loadable driver" 1 "$uwsk_run" "$dir/notes.so"
check not_a_driver_log_file 2 "is not a loadable driver" 1 "$uwsk_run" --log "$dir/log" "$dir/notes.so"
grep -c "is not a loadable driver" "$dir/log" | grep -qx 1 || fail "the log file does not have the error once"
check entry_fails_once 3 "DriverEntry returned STATUS_ACCESS_DENIED" 1 "$uwsk_run" "$failing_driver"

check unload_after_range 1 "--unload-after: Value 1e12 not in range" 1 \
  "$uwsk_run" --unload-after 1e12 "$failing_driver"
check unload_timeout_range 1 "--unload-timeout" 1 "$uwsk_run" --unload-timeout 99999999 "$failing_driver"
check dword_range 1 "--param-dword: 'Port=4294967296' is not NAME=N" 1 \
  "$uwsk_run" --param-dword Port=4294967296 "$failing_driver"
lines=$("$uwsk_run" --unload-timeout 99999999 "$failing_driver" 2>&1 | wc -l)
[ "$lines" -le 2 ] || fail "an out-of-range number takes $lines lines to report"
exit $status
