/*
 * uwsk/host.h - loading and running a driver: the C API behind uwsk-run.
 *
 * A driver is a shared object exporting DriverEntry. uwsk_driver_load opens it (RTLD_LOCAL, so
 * the driver's own symbols never interpose on the runtime's), uwsk_driver_start calls
 * DriverEntry on a system thread, uwsk_driver_unload calls DriverUnload on a system thread under
 * a watchdog, and uwsk_leak_report lists what is still allocated afterwards.
 */
#ifndef UWSK_HOST_H
#define UWSK_HOST_H

#include <stddef.h>

#include <ntdef.h>

UWSK_BEGIN_DECLS

typedef struct uwsk_driver uwsk_driver;

/* The service name uwsk_driver_load gives the driver at `path` when it is given none, as
 * Windows names a service after its image: "path/to/echo-server.so" is "echo-server". Writes it
 * into `name` (at most name_size bytes, always terminated) and returns its full length. */
size_t uwsk_driver_service_name(const char *path, char *name, size_t name_size);

/* Opens the driver at `path`. `service_name` names it in \Driver\NAME and in its registry path;
 * NULL derives it from the file name. On failure returns NULL and writes why into `error`. */
uwsk_driver *uwsk_driver_load(const char *path, const char *service_name, char *error,
                              size_t error_size);

/* Calls DriverEntry(DriverObject, RegistryPath) on a new system thread at PASSIVE_LEVEL and
 * waits for it. Returns what DriverEntry returned. */
NTSTATUS uwsk_driver_start(uwsk_driver *driver);

/* The outcome of uwsk_driver_unload. */
typedef enum uwsk_unload_result {
  UWSK_UNLOAD_DONE = 0,       /* DriverUnload returned */
  UWSK_UNLOAD_NO_ROUTINE = 1, /* the driver set no DriverUnload; it cannot be unloaded */
  UWSK_UNLOAD_TIMED_OUT = 2   /* DriverUnload did not return within the timeout */
} uwsk_unload_result;

/* Calls DriverUnload on a new system thread and waits up to `timeout_ms` for it; then waits for
 * queued work items and DPCs to finish. */
uwsk_unload_result uwsk_driver_unload(uwsk_driver *driver, unsigned timeout_ms);

/* Closes the shared object (only when no thread can still run its code) and frees the driver
 * object. */
void uwsk_driver_release(uwsk_driver *driver);

/* Writes the leak report (pool by tag, IRPs, MDLs, device objects, work items, lookaside lists,
 * system threads still running) to the log and returns how many objects leaked. */
size_t uwsk_leak_report(void);

UWSK_END_DECLS

#endif /* UWSK_HOST_H */
