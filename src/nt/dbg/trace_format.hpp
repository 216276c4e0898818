// Text of the values that WPP messages and TraceLogging events carry (shared by wpp.cpp and
// tracelogging.cpp): trace levels, status codes, addresses, GUIDs, SIDs, bytes.
#pragma once

#include <cstdint>
#include <string>

namespace uwsk::nt {

// TRACE_LEVEL_ names: "ERROR" for 2, ...; nullptr for a level without one.
const char *trace_level_name(int level);

// A level from the environment variable `variable`: a number (0-255) or a level's name, with or
// without TRACE_LEVEL_; `fallback` when unset, and (with a log line saying so) when invalid.
unsigned trace_level_from_env(const char *variable, unsigned fallback);

// printf-style append (the C library's rules).
void trace_append(std::string &out, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

// STATUS_X, or 0x........ for a value ntstatus.h does not name.
void trace_append_status(std::string &out, std::int32_t status);
// S_OK, E_FAIL, ... or 0x........ (with the status name for an HRESULT_FROM_NT value).
void trace_append_hresult(std::string &out, std::uint32_t hr);
// ERROR_SUCCESS, ... or the number.
void trace_append_winerror(std::string &out, std::uint32_t code);
// Dotted IPv4 from 4 bytes in network order; IPv6 text from 16 bytes.
void trace_append_ipv4(std::string &out, const void *bytes);
void trace_append_ipv6(std::string &out, const void *bytes);
// A Windows SOCKADDR (AF_INET 2 or AF_INET6 23): "1.2.3.4:80", "[::1]:80", "[fe80::1%3]:80".
// `length` bounds what is read (0: the family's own size).
void trace_append_sockaddr(std::string &out, const unsigned char *sa, unsigned length);
// xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx
void trace_append_guid(std::string &out, const unsigned char *guid);
// S-1-5-...
void trace_append_sid(std::string &out, const unsigned char *sid);
// "0A 1B ...", at most 4096 bytes, then "... (N bytes)".
void trace_append_bytes(std::string &out, const void *buffer, unsigned length);

} // namespace uwsk::nt
