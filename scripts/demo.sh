#!/usr/bin/env bash
# make demo: runs the example driver under uwsk-run, strict about leaks, and shows its log.
set -euo pipefail
build=${1:-build}
driver=$build/drivers/kernel-basics.so
echo "== uwsk demo: examples/kernel-basics under uwsk-run =="
echo "\$ $build/bin/uwsk-run --strict --unload-after 1 $driver"
"$build/bin/uwsk-run" --strict --unload-after 1 "$driver"
echo "== demo finished: DriverEntry, a worker thread sending IRPs, DriverUnload, no leaks =="
