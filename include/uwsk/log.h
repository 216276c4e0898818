/*
 * uwsk/log.h - the runtime's log sink: where DbgPrint, KdPrint, the verifier, bug-check reports
 * and uwsk-run's own messages go.
 *
 * Every line is written with a single write(2) and starts with the time since the process
 * started and the thread that wrote it:
 *     [   0.002113] T4242 DriverEntry: hello
 * The thread is "T<Linux tid>", or the name given with uwsk_log_set_thread_name (system threads
 * are named by the runtime). Text without a trailing newline is held for its thread and joined
 * with what that thread writes next, so lines from different threads never interleave; a held
 * fragment is flushed as its own line when the same thread logs a uwsk_log_message, when the
 * thread exits, at uwsk_log_close and at process exit.
 * The sink is stderr until uwsk_log_open names a file. All functions are thread-safe.
 */
#ifndef UWSK_LOG_H
#define UWSK_LOG_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Sends the log to `path` (opened for append, created 0644), or to stderr when path is NULL or
 * "-". Returns 0, or -errno when the file cannot be opened (the sink is then unchanged). */
int uwsk_log_open(const char *path);

/* Flushes every held fragment and returns the sink to stderr (closing the file, if any). */
void uwsk_log_close(void);

/* Writes one message from the runtime, "component: text", with printf formatting (the C
 * library's, not the Windows one). A newline is added when the text has none. A NULL or empty
 * component omits the "component: " part. */
void uwsk_log_message(const char *component, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void uwsk_log_vmessage(const char *component, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/* Writes raw text (already formatted): each complete line gets the prefix; a trailing fragment
 * without a newline is held for this thread (see above). */
void uwsk_log_write(const char *text, size_t len);

/* Names the calling thread in the prefix instead of "T<tid>" (copied, at most 31 bytes; NULL
 * returns to the tid). */
void uwsk_log_set_thread_name(const char *name);

/* Flushes the calling thread's held fragment, if any, as a line of its own. */
void uwsk_log_flush_thread(void);

#ifdef __cplusplus
}
#endif

#endif /* UWSK_LOG_H */
