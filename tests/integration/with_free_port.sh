#!/usr/bin/env bash
# with_free_port.sh FREE_PORT COMMAND [ARGS...]: runs COMMAND with every argument @PORT@ replaced
# by a port that is free right now (FREE_PORT, the free-port program, finds one), so that tests
# running at the same time never share a port. A port is only free when it is looked at: when
# COMMAND exits 75 (EX_TEMPFAIL: its driver found the port taken meanwhile), it runs again with
# another port, at most 5 times in all.
set -u
free_port=$1
shift
status=75
for attempt in 1 2 3 4 5; do
  port=$("$free_port") || exit 1
  args=()
  for a in "$@"; do
    args+=("${a//@PORT@/$port}")
  done
  echo "with_free_port: port $port (attempt $attempt)"
  status=0
  "${args[@]}" || status=$?
  [ "$status" -eq 75 ] || exit "$status"
  echo "with_free_port: port $port was taken meanwhile; trying another"
done
exit "$status"
