#!/usr/bin/env bash
# tracelogging_test.sh UWSK_RUN DRIVER: the TraceLogging driver (drivers/tracelogging.c) logs
# each event of its registered provider with every field by name and type; nothing before
# TraceLoggingRegister or after TraceLoggingUnregister; with UWSK_TRACELOGGING_LEVEL=INFORMATION
# not the events without a level (VERBOSE, as on Windows).
set -euo pipefail
uwsk_run=$1
driver=$2
name=$(basename "$driver" .so)
fail() {
  echo "tracelogging_test: $*" >&2
  exit 1
}
log=$(env -u UWSK_TRACELOGGING_LEVEL "$uwsk_run" --strict --unload-after 0 "$driver" 2>&1) ||
  fail "uwsk-run failed: $log"
printf '%s\n' "$log"
expected=(
  "tracelogging: UwskTraceLoggingTest/Loaded: port=20007 status=STATUS_SUCCESS name=\"echo\" wname=\"wide\" path=\"\\\\Registry\\\\Machine\\\\System\\\\CurrentControlSet\\\\Services\\\\$name\" mask=0xBEEF ready=TRUE id=01020304-0506-0708-090a-0b0c0d0e0f10 bytes=DE AD 01 peer=127.0.0.1:80$"
  "tracelogging: UwskTraceLoggingTest/NoFields$"
  "tracelogging: UwskTraceLoggingTest/Verbose: minus=-3$"
  "tracelogging: UwskTraceLoggingTest/Unloading$"
  "nothing leaked"
)
for pattern in "${expected[@]}"; do
  grep -Eq -- "$pattern" <<<"$log" || fail "no line matching '$pattern'"
done
if grep -Eq 'BeforeRegister|AfterUnregister' <<<"$log"; then
  fail "an event of an unregistered provider was logged"
fi
log=$(UWSK_TRACELOGGING_LEVEL=INFORMATION "$uwsk_run" --strict --unload-after 0 "$driver" 2>&1) ||
  fail "uwsk-run failed: $log"
grep -q 'UwskTraceLoggingTest/Loaded: port=20007' <<<"$log" || fail "no Loaded event at level INFORMATION: $log"
if grep -Eq 'NoFields|Verbose' <<<"$log"; then
  fail "VERBOSE events logged with UWSK_TRACELOGGING_LEVEL=INFORMATION: $log"
fi
echo "tracelogging_test: events logged with their fields; unregistered and filtered ones not"
