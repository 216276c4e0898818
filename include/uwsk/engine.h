/*
 * uwsk/engine.h - choosing the I/O engine the WSK provider's event loops wait through.
 *
 * There are two engines: "epoll" (always available) and "uring" (io_uring: Linux 5.13 or later,
 * where io_uring is not disabled by the sysctl kernel.io_uring_disabled or a seccomp filter).
 * "auto" means uring when a probe finds io_uring working and epoll otherwise; in that case one
 * line in the log says why. Without a call to uwsk_set_engine the environment variable
 * UWSK_ENGINE (epoll, uring or auto) decides, and without it auto. Both engines behave the
 * same for drivers; the choice affects only how the runtime talks to the kernel.
 */
#ifndef UWSK_ENGINE_H
#define UWSK_ENGINE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Chooses the engine for the process: `name` is "epoll", "uring" or "auto". Call it before the
 * first WSK socket is created (uwsk-run calls it before DriverEntry). "uring" and "auto" probe
 * io_uring at once; "auto" logs the fallback to epoll then, if there is one.
 * Returns 0, or a negative errno value and a sentence in `error` (at most error_size bytes,
 * always terminated; `error` may be NULL):
 *   -EINVAL  `name` is NULL or not one of the three names;
 *   -EBUSY   the event loops are running already, so the engine cannot change;
 *   other    "uring" was asked for and io_uring is unavailable: the probe's errno (-ENOSYS,
 *            -EPERM, -EOPNOTSUPP, ...) and its reason.
 * On failure the choice is unchanged. Thread-safe. */
int uwsk_set_engine(const char *name, char *error, size_t error_size);

/* The engine the event loops use, or will use when they start: "epoll" or "uring" (never
 * "auto": resolving it may probe io_uring now). NULL when "uring" was chosen and io_uring is
 * unavailable. The string is static. Thread-safe. */
const char *uwsk_engine_name(void);

#ifdef __cplusplus
}
#endif

#endif /* UWSK_ENGINE_H */
