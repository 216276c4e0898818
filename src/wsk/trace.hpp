// What the call trace (nt/dbg/trace.hpp) learns from the WSK provider: the tables of traced
// entry points, the socket an event callback runs for, and endpoints as text. Both halves
// include this header, so it names no Windows or Linux structure.
#pragma once

#include <cstddef>

#include "nt/dbg/trace.hpp"
#include "wsk/views.hpp"

namespace uwsk::wsk {

// The provider tables (windows/dispatch.cpp): as handed out while tracing is on, or not.
const void *client_dispatch_table();
const void *untraced_dispatch_for(category cat);
const void *untraced_client_dispatch();

// The tables whose entries record each call and then call the untraced entry
// (windows/trace.cpp).
const void *traced_dispatch_for(category cat);
const void *traced_client_dispatch();

// The socket whose event callback this thread runs (set by run_callback while tracing;
// initial-exec, as it is written around every event callback).
extern constinit thread_local const void *trace_callback_socket [[gnu::tls_model("initial-exec")]];

// Tells the trace the endpoints of `socket`, when it is an open WSK socket and the trace does
// not know them yet (linux/trace.cpp).
void trace_socket_endpoints(const void *socket);

// A Windows SOCKADDR as text ("127.0.0.1:80", "[::1]:80"; "(null)", or the family number for
// one WSK does not know). Returns `text`.
const char *trace_address(const void *windows_address, char *text, std::size_t size);

} // namespace uwsk::wsk
