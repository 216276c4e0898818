#!/usr/bin/env bash
# seed_test.sh UWSK_RUN DRIVER: loads the seed driver, connects a real client to the socket the
# documentation's CreateListeningSocket created, then unloads the driver (strict about leaks).
set -u
uwsk_run=$1
driver=$2
log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$uwsk_run" --strict "$driver" >"$log" 2>&1 &
server=$!
for _ in $(seq 1 50); do
  grep -q "seed: listening" "$log" && break
  sleep 0.1
done
connected=no
if timeout 5 bash -c 'exec 3<>/dev/tcp/127.0.0.1/20008' 2>/dev/null; then
  connected=yes
fi
kill -TERM "$server"
wait "$server"
status=$?
cat "$log"
echo "seed_test: client connected: $connected; uwsk-run exit $status"
[ "$connected" = yes ] && [ "$status" -eq 0 ]
