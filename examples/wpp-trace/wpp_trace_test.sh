#!/usr/bin/env bash
# wpp_trace_test.sh UWSK_RUN DRIVER: the wpp-trace example's WPP messages in uwsk's log.
#  1. By default (level INFORMATION, every flag): the messages of DoTraceMessage, TraceEvents
#     and the FuncExit function with %!STATUS! names, %!FUNC!, file:line, the address types,
#     %!bool!, %!HEXDUMP!, wide text and a C++ source's traces; no VERBOSE ones (FuncEntry, the
#     TraceEvents at TRACE_LEVEL_VERBOSE) and nothing after WPP_CLEANUP.
#  2. UWSK_WPP_LEVEL=VERBOSE: the verbose ones too.
#  3. UWSK_WPP_FLAGS=0x1 (TRACE_DRIVER only): nothing of TRACE_SOCKET or TRACE_NAMES.
set -euo pipefail
uwsk_run=$1
driver=$2
fail() {
  echo "wpp_trace_test: $*" >&2
  exit 1
}
expect() {
  grep -Eq -- "$2" <<<"$1" || fail "no line matching '$2' in:
$1"
}
refuse() {
  if grep -Eq -- "$2" <<<"$1"; then
    fail "a line matches '$2' in:
$1"
  fi
}

log=$(env -u UWSK_WPP_LEVEL -u UWSK_WPP_FLAGS "$uwsk_run" --strict --unload-after 0.2 "$driver" 2>&1) ||
  fail "uwsk-run failed: $log"
expect "$log" 'wpp: tracing WppTraceGuid at level 4 \(INFORMATION\), flags 0xFFFFFFFF'
expect "$log" 'wpp: INFORMATION TRACE_DRIVER DriverEntry wpp_trace\.c:[0-9]+: loading \\Registry\\Machine\\System\\CurrentControlSet\\Services\\wpp-trace'
expect "$log" 'wpp: INFORMATION TRACE_DRIVER DriverEntry wpp_trace\.c:[0-9]+: WSK registration: STATUS_SUCCESS$'
expect "$log" 'wpp: WARNING TRACE_SOCKET WppTraceOpen wpp_trace\.c:[0-9]+: WskSocket\(family 12345\) refused: STATUS_[A-Z_]+$'
expect "$log" 'wpp: INFORMATION TRACE_NAMES WppTraceDescribe wpp_trace_names\.cpp:[0-9]+: bound to 127\.0\.0\.1 port [1-9][0-9]* \(127\.0\.0\.1:[1-9][0-9]*\)$'
expect "$log" 'socket ready, 1 of one, wide text, open TRUE, address bytes 7F 00 00 01$'
expect "$log" 'wpp: INFORMATION TRACE_SOCKET WppTraceOpen wpp_trace\.c:[0-9]+: <-- WppTraceOpen: STATUS_SUCCESS$'
expect "$log" 'wpp: INFORMATION TRACE_DRIVER DriverEntry wpp_trace\.c:[0-9]+: <-- DriverEntry: STATUS_SUCCESS$'
expect "$log" 'wpp: TRACE_SOCKET WppTraceClose wpp_trace\.c:[0-9]+: closed socket: STATUS_SUCCESS$'
expect "$log" 'wpp: TRACE_DRIVER WppTraceUnload wpp_trace\.c:[0-9]+: unloaded$'
expect "$log" 'nothing leaked'
refuse "$log" 'VERBOSE|-->|verbose'
refuse "$log" 'after WPP_CLEANUP'

log=$(UWSK_WPP_LEVEL=VERBOSE "$uwsk_run" --strict --unload-after 0.2 "$driver" 2>&1) || fail "uwsk-run failed: $log"
expect "$log" 'wpp: tracing WppTraceGuid at level 5 \(VERBOSE\)'
expect "$log" 'wpp: VERBOSE TRACE_DRIVER DriverEntry wpp_trace\.c:[0-9]+: --> DriverEntry$'
expect "$log" 'wpp: VERBOSE TRACE_DRIVER DriverEntry wpp_trace\.c:[0-9]+: verbose: DriverEntry is about to return$'
expect "$log" 'wpp: VERBOSE TRACE_NAMES WppTraceDescribe wpp_trace_names\.cpp:[0-9]+: verbose detail from WppTraceDescribe: family 2$'
expect "$log" 'wpp: VERBOSE TRACE_DRIVER WppTraceUnload wpp_trace\.c:[0-9]+: --> WppTraceUnload$'
refuse "$log" 'after WPP_CLEANUP'

log=$(UWSK_WPP_FLAGS=0x1 "$uwsk_run" --strict --unload-after 0.2 "$driver" 2>&1) || fail "uwsk-run failed: $log"
expect "$log" 'wpp: tracing WppTraceGuid at level 4 \(INFORMATION\), flags 0x00000001'
expect "$log" 'WSK registration: STATUS_SUCCESS'
refuse "$log" 'TRACE_SOCKET|TRACE_NAMES'
echo "wpp_trace_test: WPP messages logged with their levels, flags, functions and status names; disabled levels and flags silent"
