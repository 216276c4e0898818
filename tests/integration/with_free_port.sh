#!/usr/bin/env bash
# with_free_port.sh FREE_PORT COMMAND [ARGS...]: runs COMMAND with every argument @PORT@ replaced
# by a port of its own (FREE_PORT, the free-port program, takes one and holds it until COMMAND
# and everything it started have ended: free_port.cpp), so that tests running at the same time,
# and benchmark runs, never share a port. A port is only checked free when it is taken: when
# COMMAND exits 75 (EX_TEMPFAIL: its driver found the port taken meanwhile, by a program that
# does not take ports this way), it runs again with another port, at most 5 times in all.
set -u
free_port=$1
shift
status=75
for attempt in 1 2 3 4 5; do
  echo "with_free_port: attempt $attempt"
  status=0
  "$free_port" --run "$@" || status=$?
  [ "$status" -eq 75 ] || exit "$status"
  echo "with_free_port: the port was taken meanwhile; trying another"
done
exit "$status"
