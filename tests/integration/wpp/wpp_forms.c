/* wpp_forms.c - the trace-function forms uwsk-tracewpp must handle, compiled as C and as C++
 * (wpp_forms.cpp) by every compiler wpp_generator_test.sh finds, without the WDK headers, and
 * run: main() turns tracing on and traces through each form; the test compares the log.
 *
 * Forms: DoTraceMessage; a function from -func: on the command line (CmdTrace); functions of this
 * file's own configuration block with 0 to 6 arguments, fixed arguments in braces, a prefix, a
 * suffix with an argument, and driver-defined PRE/POST macros. */
#include <stdio.h>
/* Included before WPP_CONTROL_GUIDS is defined: the .tmh still defines the controls. */
#include <uwsk/wpp.h>

#define WPP_CONTROL_GUIDS                                                                          \
  WPP_DEFINE_CONTROL_GUID(FormsGuid, (11111111, 2222, 3333, 4444, 555555555555),                   \
                          WPP_DEFINE_BIT(FLAG_ONE) WPP_DEFINE_BIT(FLAG_TWO))                       \
  WPP_DEFINE_CONTROL_GUID(OtherGuid, (66666666, 7777, 8888, 9999, aaaaaaaaaaaa),                   \
                          WPP_DEFINE_BIT(FLAG_OTHER))

#define WPP_LEVEL_FLAGS_ENABLED(lvl, flags)                                                        \
  (WPP_LEVEL_ENABLED(flags) && WPP_CONTROL(WPP_BIT_##flags).Level >= lvl)
#define WPP_LEVEL_FLAGS_LOGGER(lvl, flags) WPP_LEVEL_LOGGER(flags)
#define WPP_FLAGS_LEVEL_ENABLED(flags, lvl) WPP_LEVEL_FLAGS_ENABLED(lvl, flags)
#define WPP_FLAGS_ENABLED(flags) WPP_LEVEL_ENABLED(flags)
#define WPP_LEVEL_FLAGS_CODE_ENABLED(lvl, flags, code) WPP_LEVEL_FLAGS_ENABLED(lvl, flags)
/* Counts the calls that reach the check: PRE and POST surround the whole trace statement. */
static int g_pre;
static int g_post;
#define WPP_LEVEL_FLAGS_CODE_PRE(lvl, flags, code) g_pre++;
#define WPP_LEVEL_FLAGS_CODE_POST(lvl, flags, code)                                                \
  ;                                                                                                \
  g_post++

// begin_wpp config
// FUNC TraceEvents(LEVEL, FLAGS, MSG, ...);
// FUNC TraceOne{FLAGS=FLAG_TWO}(LEVEL, MSG, ...);
// FUNC TraceCode{LEVEL=TRACE_LEVEL_ERROR}(FLAGS, CODE);
// USEPREFIX(TraceCode, "%!STDPREFIX! [%!FUNC!]");
// USESUFFIX(TraceCode, " code %!STATUS! (line %!LINE!)", CODE);
// end_wpp

#include "wpp_forms.tmh"

#ifdef __cplusplus
extern "C"
#endif
    int
    main(void) {
  unsigned char bytes[2] = {0xAB, 0xCD};
  const char *text = "text";
  TraceEvents(TRACE_LEVEL_ERROR, FLAG_ONE, "before WPP_INIT_TRACING");
  WPP_INIT_TRACING(NULL, NULL);
  TraceEvents(TRACE_LEVEL_ERROR, FLAG_ONE, "no arguments");
  TraceEvents(TRACE_LEVEL_WARNING, FLAG_ONE, "one: %d", 1);
  TraceEvents(TRACE_LEVEL_INFORMATION, FLAG_TWO, "six: %d %u %s %I64d %!bool! %!HEXDUMP!", -2, 3u,
              text, (long long)1 << 40, 0, WppHexDump(bytes, sizeof(bytes)));
  TraceEvents(TRACE_LEVEL_VERBOSE, FLAG_ONE, "verbose: not shown at INFORMATION");
  TraceOne(TRACE_LEVEL_WARNING, "fixed flag, status %!STATUS!, %!HRESULT!, %!WINERROR!",
           (int)0xC0000022, (int)0x80004005, 5);
  TraceCode(FLAG_ONE, (int)0xC000000D);
  DoTraceMessage(FLAG_OTHER, "other control GUID, %!IPADDR!:%!PORT!", 0x0100007Fu, 0x5000);
  CmdTrace(FLAG_TWO, "from -func:");
  if (0)
    TraceEvents(TRACE_LEVEL_ERROR, FLAG_ONE, "in an if without braces");
  else
    TraceEvents(TRACE_LEVEL_ERROR, FLAG_ONE, "in its else");
  WPP_CLEANUP(NULL);
  TraceEvents(TRACE_LEVEL_ERROR, FLAG_ONE, "after WPP_CLEANUP");
  printf("pre %d post %d\n", g_pre, g_post);
  return 0;
}
