#!/usr/bin/env bash
# late_provider_unload_test.sh UWSK_RUN DRIVER: loads an example driver while the WSK subsystem
# is not ready (UWSK_PROVIDER_READY_DELAY_MS=30000) under `uwsk-run --verify=strict --strict` and
# unloads it after 0.3 s, while its start-up thread still waits in WskCaptureProviderNPI: the
# driver's WskDeregister must end that wait so that the unload completes. Passes only if uwsk-run
# exits 0 (within 20 s: long before the subsystem would be ready) and no verifier rule (V5 or any other) was reported.
set -u
uwsk_run=$1
driver=$2
status=0
log=$(UWSK_PROVIDER_READY_DELAY_MS=30000 timeout 20 "$uwsk_run" --strict --verify=strict \
  --unload-after 0.3 "$driver" 2>&1) || status=$?
echo "$log"
echo "late_provider_unload_test: uwsk-run exit $status (124: timed out)"
if grep -Eq "verifier: rule V[0-9]+ \((error|warning)" <<<"$log"; then
  echo "late_provider_unload_test: the verifier reported a rule (V5: a wait for the subsystem in DriverEntry?)"
  exit 1
fi
[ "$status" -eq 0 ]
