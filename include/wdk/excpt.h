/*
 * excpt.h - structured exception handling keywords for code built by GCC or Clang.
 *
 * Neither compiler has SEH on Linux. __try runs its block once (a one-pass loop, so that __leave
 * is a `break`); __except's block never runs, because the runtime reports every failure as a
 * status code or a verifier report, never as an exception, but its filter expression must still
 * compile; __finally's block always runs. Limitation: a `break` or `continue` written inside a
 * __try block for an enclosing loop ends the __try block instead.
 *
 * The runtime counts the __try blocks each thread is in, so that MmProbeAndLockPages outside one
 * is reported (verifier rule V35): the loop variable of __try is made by uwsk_seh_enter and has
 * a cleanup (a GCC and Clang attribute, in C and C++) that calls uwsk_seh_leave however the block
 * is left: at its end, by __leave, return, break or goto.
 */
#ifndef UWSK_WDK_EXCPT_H
#define UWSK_WDK_EXCPT_H

/* Exception filter results. */
#define EXCEPTION_EXECUTE_HANDLER 1
#define EXCEPTION_CONTINUE_SEARCH 0
#define EXCEPTION_CONTINUE_EXECUTION (-1)

#ifdef __cplusplus
extern "C" {
#endif
/* uwsk_seh_enter: the calling thread enters a __try block; returns 1 (the block's loop runs
 * once). */
int uwsk_seh_enter(void);
/* uwsk_seh_leave: the calling thread leaves the __try block whose loop variable is *Once. */
void uwsk_seh_leave(int *Once);
#ifdef __cplusplus
}
#endif

/* The runtime's C++ code uses real exceptions (libstdc++ defines __try itself), so the keywords
 * are for driver code only. A C++ driver includes standard headers before the WDK headers; the
 * __try those defined has served them and is replaced here. */
#ifndef UWSK_RUNTIME_BUILD
#ifdef __try
#undef __try
#endif
#ifdef __except
#undef __except
#endif
#ifdef __finally
#undef __finally
#endif
#ifdef __leave
#undef __leave
#endif
/* __except must stay function-like: `__except (filter)` with a space would make it an
 * object-like macro and every driver that writes __except(...) would stop compiling. */
/* clang-format off */
#define __try if (1) for (int uwsk_seh_once_ __attribute__((cleanup(uwsk_seh_leave))) = uwsk_seh_enter(); uwsk_seh_once_; uwsk_seh_once_ = 0)
#define __except(filter) else if (0 && (filter))
#define __finally if (1)
#define __leave break
/* clang-format on */
/* In C (not C++, where try is the language's own) the WDK also accepts the unprefixed keywords. */
#ifndef __cplusplus
#define try __try
#define except __except
#define finally __finally
#define leave __leave
#endif
#define GetExceptionCode() ((NTSTATUS)0)
#define GetExceptionInformation() ((PVOID)0)
#define _exception_code() GetExceptionCode()
#define _exception_info() GetExceptionInformation()
#define AbnormalTermination() 0
#define _abnormal_termination() AbnormalTermination()
#endif /* !UWSK_RUNTIME_BUILD */

#endif /* UWSK_WDK_EXCPT_H */
