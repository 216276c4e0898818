/*
 * glibc_wide_call.c - must NOT compile: a driver that calls a glibc wide function uwsk does not
 * implement (it would read 4-byte characters) gets an error naming it.
 */
#include <ntddk.h>
#include <wchar.h>

wchar_t *uwsk_tokens(wchar_t *text, wchar_t **state) {
  return wcstok(text, L" ", state);
}
