/*
 * uwsk/status.h - symbolic names of NTSTATUS values, for logs and reports.
 *
 * This header stands alone (it does not include the WDK headers, which define _WIN32 and other
 * names a Linux translation unit must not see). An NTSTATUS is an int32_t (ntdef.h), so the
 * functions take int32_t and accept any NTSTATUS unchanged.
 */
#ifndef UWSK_STATUS_H
#define UWSK_STATUS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Returns the Windows name of a status ("STATUS_INVALID_PARAMETER") for every value that
 * wdk/ntstatus.h defines, or NULL for any other value. Where several names share a value
 * (STATUS_SUCCESS and STATUS_WAIT_0), the first one ntstatus.h lists is returned. The string is
 * static. Thread-safe. */
const char *uwsk_status_name(int32_t status);

/* Writes "STATUS_X (0xC000000D)" for a known status, or "0x12345678" for an unknown one, into
 * buf (at most len bytes, always NUL-terminated, truncated if buf is too small) and returns
 * buf. Returns "" without writing when buf is NULL or len is 0. Thread-safe. */
const char *uwsk_status_describe(int32_t status, char *buf, size_t len);

/* Looks a status up by its exact name ("STATUS_ACCESS_DENIED"). Returns 1 and stores the value
 * when ntstatus.h defines the name, 0 otherwise. Thread-safe. */
int uwsk_status_from_name(const char *name, int32_t *status);

#ifdef __cplusplus
}
#endif

#endif /* UWSK_STATUS_H */
