/*
 * uwsk/trace.h - the call trace: every WSK call a driver makes, every IRP completion and every
 * event callback, with the socket, the arguments that matter, the status by name, the IRP's
 * Information, the thread, the simulated IRQL and the time in microseconds.
 *
 * A FILE ending in ".json" gets the Chrome trace-event format (an object whose "traceEvents"
 * array Perfetto and chrome://tracing open as a timeline, one track per socket); any other name
 * gets one text line per record. uwsk-run --trace FILE calls uwsk_trace_open before DriverEntry;
 * any other program hosting a driver gets the same with the environment variable
 * UWSK_TRACE=FILE, read when the first driver is loaded or the first WSK client registers.
 * The trace is written out at uwsk_trace_close, at process exit and when a bug check stops the
 * process (the JSON is then still complete). All functions are thread-safe.
 */
#ifndef UWSK_TRACE_H
#define UWSK_TRACE_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Starts tracing to `path` (created or truncated), ending any trace already running. Returns 0,
 * or -errno with a sentence in `error` (when not NULL) saying why. */
int uwsk_trace_open(const char *path, char *error, size_t error_size);

/* Ends the trace: operations still open are ended as not completed, and the file is closed. */
void uwsk_trace_close(void);

#ifdef __cplusplus
}
#endif

#endif /* UWSK_TRACE_H */
