// wpp_trace_names.cpp - the C++ half of the wpp-trace example: names a socket address for the
// log, tracing from a C++ translation unit that shares the C one's control block.
#include <ntddk.h>
#include <wsk.h>

#include "trace.h"
#include "wpp_trace_names.tmh"

extern "C" VOID WppTraceDescribe(const SOCKADDR_IN *Address) {
  TraceEvents(TRACE_LEVEL_INFORMATION, TRACE_NAMES, "bound to %!IPADDR! port %!PORT! (%!SOCKADDR!)",
              Address->sin_addr.s_addr, Address->sin_port, (const SOCKADDR *)Address);
  TraceEvents(TRACE_LEVEL_VERBOSE, TRACE_NAMES, "verbose detail from %!FUNC!: family %d",
              Address->sin_family);
}
