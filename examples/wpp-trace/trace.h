/*
 * trace.h - the WPP configuration of the wpp-trace example, as a WDK driver writes it: the
 * control GUID with its flags, the trace functions (read by uwsk-tracewpp -scan:trace.h) and the
 * WPP_<args>_ENABLED macros those functions need. Each source includes this, then its .tmh.
 */
#pragma once

#define WPP_CONTROL_GUIDS                                                                          \
  WPP_DEFINE_CONTROL_GUID(WppTraceGuid, (6c1a2b3d, 0f4e, 4a5b, 9c8d, 7e6f5a4b3c2d),                \
                          WPP_DEFINE_BIT(TRACE_DRIVER) WPP_DEFINE_BIT(TRACE_SOCKET)                \
                              WPP_DEFINE_BIT(TRACE_NAMES))

/* TraceEvents(LEVEL, FLAGS, MSG, ...): the flag must be on and the level at most the one the
 * trace session asked for. */
#define WPP_LEVEL_FLAGS_LOGGER(lvl, flags) WPP_LEVEL_LOGGER(flags)
#define WPP_LEVEL_FLAGS_ENABLED(lvl, flags)                                                        \
  (WPP_LEVEL_ENABLED(flags) && WPP_CONTROL(WPP_BIT_##flags).Level >= lvl)

/* FuncExit(FLAGS, STATUS) takes the level from its configuration and prints the status. */
#define WPP_LEVEL_FLAGS_STATUS_LOGGER(lvl, flags, status) WPP_LEVEL_LOGGER(flags)
#define WPP_LEVEL_FLAGS_STATUS_ENABLED(lvl, flags, status) WPP_LEVEL_FLAGS_ENABLED(lvl, flags)

// begin_wpp config
// FUNC TraceEvents(LEVEL, FLAGS, MSG, ...);
// FUNC FuncEntry{LEVEL=TRACE_LEVEL_VERBOSE}(FLAGS);
// USEPREFIX(FuncEntry, "%!STDPREFIX! --> %!FUNC!");
// FUNC FuncExit{LEVEL=TRACE_LEVEL_INFORMATION}(FLAGS, STATUS);
// USEPREFIX(FuncExit, "%!STDPREFIX! <-- %!FUNC!");
// USESUFFIX(FuncExit, ": %!STATUS!", STATUS);
// end_wpp
