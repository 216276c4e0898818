/*
 * uwsk/faults.h - fault and schedule injection, seeded and replayable (docs/faults.md).
 *
 * A fault plan makes the runtime misbehave in ways a WSK driver must survive on Windows: every
 * operation pending, completions delayed or moved to another thread, receives and indications
 * split, allocations failing, connections reset or force-closed, callbacks at another IRQL, and
 * so on. Each kind of fault draws from a stream of its own, derived from the seed, the fault's
 * name and the object it applies to (a socket and its operation count, or the n-th allocation),
 * so the same seed with the same driver and peer traffic injects the same faults again.
 *
 * Without a call to uwsk_faults_configure the environment decides: UWSK_FAULTS=SPEC and
 * UWSK_SEED=N (decimal or 0x hexadecimal; without it a seed is chosen at random). Either way the
 * log names the plan and its seed when faults are on.
 */
#ifndef UWSK_FAULTS_H
#define UWSK_FAULTS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Installs the fault plan `spec` (the comma list of docs/faults.md, e.g.
 * "pend=all,delay=0-2ms,alloc-fail=irp:0.01") with `seed`; NULL or "" turns faults off. Call it
 * before the driver is loaded (uwsk-run calls it before DriverEntry): the plan is read without
 * locks by every thread. Returns 0, or -EINVAL with a sentence in `error` (at most error_size
 * bytes, always terminated; `error` may be NULL), and then the plan is unchanged. */
int uwsk_faults_configure(const char *spec, uint64_t seed, char *error, size_t error_size);

/* The seed of the plan in force (0 when faults are off). */
uint64_t uwsk_faults_seed(void);

/* How many faults were injected since the plan was installed (every fault the log names). */
uint64_t uwsk_faults_injected(void);

#ifdef __cplusplus
}
#endif

#endif /* UWSK_FAULTS_H */
