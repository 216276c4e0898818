/*
 * uwsk/registry.h - filling uwsk's in-memory registry from the host, before a driver runs.
 *
 * Drivers read their configuration with ZwOpenKey, ZwQueryValueKey or RtlQueryRegistryValues
 * (wdk/km/registry.h); a host (uwsk-run --param) writes it with these functions. Paths are
 * absolute registry paths in UTF-8 ("\\Registry\\Machine\\System\\CurrentControlSet\\Services\\
 * echo\\Parameters"); keys missing along the path are created. Names compare case-insensitively.
 * Each function returns an NTSTATUS: 0 (STATUS_SUCCESS), STATUS_INVALID_PARAMETER for a NULL
 * argument, STATUS_OBJECT_PATH_SYNTAX_BAD for a path that does not start with a backslash,
 * STATUS_OBJECT_NAME_NOT_FOUND for one outside \Registry, STATUS_OBJECT_NAME_INVALID for an empty
 * path component. Thread-safe.
 *
 * Like uwsk/status.h, this header stands alone: it includes no WDK header.
 */
#ifndef UWSK_REGISTRY_H
#define UWSK_REGISTRY_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Creates the key (and every missing key above it). */
int32_t uwsk_registry_create_key(const char *key_path);

/* Sets value `name` (NULL or "" is the key's default value) to `size` bytes of `type` (a REG_*
 * value of wdk/km/registry.h). */
int32_t uwsk_registry_set_value(const char *key_path, const char *name, uint32_t type,
                                const void *data, uint32_t size);

/* Sets a REG_SZ value: `value` converted from UTF-8 to UTF-16, with its terminating NUL. */
int32_t uwsk_registry_set_string(const char *key_path, const char *name, const char *value);

/* Sets a REG_DWORD value. */
int32_t uwsk_registry_set_dword(const char *key_path, const char *name, uint32_t value);

#ifdef __cplusplus
}
#endif

#endif /* UWSK_REGISTRY_H */
