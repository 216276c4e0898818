/*
 * uwsk/verifier.h - the verifier's mode (docs/verifier.md).
 *
 * Every broken rule is reported in the log as "verifier: rule Vn (error|warning): sentence".
 * Error rules stop the process with a DRIVER_VERIFIER_DETECTED_VIOLATION bug check; warning rules
 * are logged and the driver goes on, unless strict mode is on: then they stop it too. Strict mode
 * starts on when the environment variable UWSK_VERIFY is "strict" (uwsk-run --verify=strict).
 * UWSK_VERIFY=off (uwsk-run --verify=off), read once before the first IRP or pool block, turns
 * the verifier's bookkeeping off for the whole process, to measure what it costs.
 */
#ifndef UWSK_VERIFIER_H
#define UWSK_VERIFIER_H

#ifdef __cplusplus
extern "C" {
#endif

/* Turns strict mode on (non-zero) or off. Thread-safe. */
void uwsk_verifier_set_strict(int on);

/* 1 when strict mode is on, else 0. */
int uwsk_verifier_strict(void);

/* Installs the crash report for faults in driver code (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT):
 * the faulting address, the thread, its simulated IRQL, the WSK call or callback in progress and
 * the stack resolved to function and file:line; the signal is then raised again with its default
 * action, so the process ends with that signal (shell status 128 + signal number). Does nothing
 * under a debugger, AddressSanitizer or valgrind, which report faults themselves, or when the
 * environment variable UWSK_CRASH_REPORT is "0". Returns 1 when installed, 0 when not.
 * uwsk_driver_load calls it. */
int uwsk_crash_report_install(void);

#ifdef __cplusplus
}
#endif

#endif
