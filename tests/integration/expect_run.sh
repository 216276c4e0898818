#!/usr/bin/env bash
# expect_run.sh EXIT_CODE REGEX COMMAND...: runs COMMAND, and passes when it exits with EXIT_CODE
# and its combined output matches the extended regular expression REGEX ("-" for any output);
# the output is matched as one line, so ".*" spans line breaks.
set -u
expected_exit=$1
pattern=$2
shift 2
output=$("$@" 2>&1)
status=$?
printf '%s\n' "$output"
if [ "$status" -ne "$expected_exit" ]; then
  echo "expect_run: exit status $status, expected $expected_exit" >&2
  exit 1
fi
if [ "$pattern" != "-" ] && ! printf '%s' "$output" | tr '\n' ' ' | grep -Eq -- "$pattern"; then
  echo "expect_run: output does not match /$pattern/" >&2
  exit 1
fi
exit 0
