/*
 * uwsk/wpp.h - WPP software tracing for drivers run by uwsk: the run-time side of the .tmh
 * headers that uwsk-tracewpp generates. Drivers do not include it themselves: each generated
 * .tmh does, after the driver has defined WPP_CONTROL_GUIDS (and its WPP_..._ENABLED macros).
 *
 * What a .tmh gives a driver, as the WDK's do:
 *   - WPP_BIT_<flag> for every WPP_DEFINE_BIT of WPP_CONTROL_GUIDS, and WPP_CONTROL(WPP_BIT_x)
 *     with .Level, .Flags[] and .Logger of the control GUID that defines the flag;
 *   - WPP_LEVEL_ENABLED(FLAG) (the flag is on) and WPP_LEVEL_LOGGER(FLAG), which drivers' own
 *     WPP_<args>_ENABLED macros build on, WPP_MASK, WPP_FLAG_NO, WPP_CTRL_NO;
 *   - WPP_INIT_TRACING(DriverObject, RegistryPath) and WPP_CLEANUP(DriverObject);
 *   - one macro per trace function (DoTraceMessage and each FUNC of the configuration), which
 *     evaluates the function's WPP_<args>_ENABLED and, when it is true, sends the message to the
 *     log (uwsk/log.h) as one line:
 *         wpp: INFORMATION DBG_INIT EchoStart echo.c:42: started: STATUS_SUCCESS
 *     (level, flag, function, file:line, then the message formatted with the Windows rules and
 *     the WPP types, see uwsk_wpp_trace).
 *
 * Before WPP_INIT_TRACING and after WPP_CLEANUP every level and flag is off, as on Windows with
 * no trace session. WPP_INIT_TRACING sets the level from UWSK_WPP_LEVEL (a TRACE_LEVEL_ number
 * 0-255 or a name: CRITICAL, ERROR, WARNING, INFORMATION, VERBOSE, with or without
 * TRACE_LEVEL_; default INFORMATION) and the flags from UWSK_WPP_FLAGS (a mask, decimal or 0x
 * hex, applied to the first 32 flags of each control GUID; default all).
 */
#ifndef UWSK_WPP_H
#define UWSK_WPP_H

#ifdef __cplusplus
extern "C" {
#endif

/* Flags per control GUID (WPP_DEFINE_BIT), in words of 32. */
#define UWSK_WPP_FLAG_WORDS 4

/* One control GUID's state: what WPP_CONTROL() names. */
struct uwsk_wpp_control {
  unsigned char Level;                     /* TRACE_LEVEL_* threshold; 0 while tracing is off */
  unsigned int Flags[UWSK_WPP_FLAG_WORDS]; /* the enabled flags, bit n-1 for the nth flag */
  void *Logger;                            /* non-NULL while tracing is on */
  const char *Name;                        /* the control GUID's name */
};

/* The argument of %!HEXDUMP!, made by WppHexDump(buffer, length), LOG_HEXDUMP(length, buffer) or
 * LOG_LENSTR(length, buffer). */
struct uwsk_wpp_hexdump {
  const void *Buffer;
  unsigned int Length;
};

/* Turns tracing on for `count` control blocks: levels and flags from the environment (above);
 * logs one line per control GUID saying what is enabled. */
void uwsk_wpp_init(struct uwsk_wpp_control *controls, int count);

/* Turns tracing off again. */
void uwsk_wpp_cleanup(struct uwsk_wpp_control *controls, int count);

/* Writes one trace message to the log. `level` is the message's TRACE_LEVEL_ (or -1 when its
 * function has none), `flag` its flag's name (or NULL), `function`, `file` and `line` the call
 * site. The variable arguments are: the arguments of `prefix` (USEPREFIX), then, when
 * `has_message`, the message format (const char *) and its arguments, then those of `suffix`
 * (USESUFFIX). Prefix, message and suffix are formatted with the Windows rules (DbgPrint's) and
 * the WPP types:
 *   %!STATUS! %!NTSTATUS! %!NDIS_STATUS!  an NTSTATUS, printed as its name (STATUS_SUCCESS) or hex
 *   %!HRESULT!  an HRESULT;  %!WINERROR!  a Win32 error code
 *   %!bool! %!BOOLEAN! %!BOOL!  TRUE or FALSE;  %!IRQL!  a KIRQL, as a number
 *   %!IPADDR! %!ipaddr!  an IPv4 address in network order (ULONG);  %!PORT!  a port in network
 *     order (USHORT);  %!IPV6ADDR!  a pointer to 16 bytes;  %!SOCKADDR!  a pointer to a SOCKADDR
 *     (IPv4 or IPv6, printed with its port)
 *   %!GUID!  a pointer to a GUID;  %!SID!  a pointer to a SID;  %!HEXDUMP!  a uwsk_wpp_hexdump
 *   %!TIMESTAMP! %!TIME! %!DATE! %!WAITTIME! %!delta! %!due!  a 64-bit count of 100 ns units
 *   %!FUNC! %!FILE! %!LINE! %!LEVEL! %!FLAGS!  the call site (no argument); %!SPACE! a space;
 *   %!STDPREFIX! nothing
 * Any other %!NAME! (an enumeration declared with CUSTOM_TYPE) takes an int and prints it. */
void uwsk_wpp_trace(int level, const char *flag, const char *function, const char *file, int line,
                    const char *prefix, const char *suffix, int has_message, ...);

/* The %!HEXDUMP! argument for `length` bytes at `buffer`. */
static inline struct uwsk_wpp_hexdump uwsk_wpp_hexdump_of(const void *buffer, unsigned int length) {
  struct uwsk_wpp_hexdump dump;
  dump.Buffer = buffer;
  dump.Length = length;
  return dump;
}

#ifdef __cplusplus
}
#endif

#define WppHexDump(Buffer, Length) uwsk_wpp_hexdump_of((Buffer), (unsigned int)(Length))
#define LOG_HEXDUMP(Length, Buffer) uwsk_wpp_hexdump_of((Buffer), (unsigned int)(Length))
#define LOG_LENSTR(Length, Buffer) uwsk_wpp_hexdump_of((Buffer), (unsigned int)(Length))

/* The TRACE_LEVEL_ constants of evntrace.h, for drivers that take them from the WPP headers. */
#ifndef TRACE_LEVEL_NONE
#define TRACE_LEVEL_NONE 0
#define TRACE_LEVEL_CRITICAL 1
#define TRACE_LEVEL_FATAL 1
#define TRACE_LEVEL_ERROR 2
#define TRACE_LEVEL_WARNING 3
#define TRACE_LEVEL_INFORMATION 4
#define TRACE_LEVEL_VERBOSE 5
#define TRACE_LEVEL_RESERVED6 6
#define TRACE_LEVEL_RESERVED7 7
#define TRACE_LEVEL_RESERVED8 8
#define TRACE_LEVEL_RESERVED9 9
#endif

#endif /* UWSK_WPP_H */

/* The control GUIDs and their flags, from the driver's WPP_CONTROL_GUIDS. Each flag's value is
 * its control GUID's number times 0x10000 plus its own number (from 1). Defined once per
 * translation unit, by the first .tmh included after WPP_CONTROL_GUIDS (this part has a guard of
 * its own, so an earlier inclusion of this header without WPP_CONTROL_GUIDS does not hide it). */
#if defined(WPP_CONTROL_GUIDS) && !defined(UWSK_WPP_CONTROLS_DEFINED)
#define UWSK_WPP_CONTROLS_DEFINED

#define WPP_DEFINE_BIT(Name)
#define WPP_DEFINE_CONTROL_GUID(Name, Guid, Bits) WPP_CTL_##Name,
enum uwsk_wpp_controls { WPP_CONTROL_GUIDS WPP_UWSK_CONTROL_COUNT };
#undef WPP_DEFINE_BIT
#undef WPP_DEFINE_CONTROL_GUID

#define WPP_DEFINE_BIT(Name) WPP_BIT_##Name,
#define WPP_DEFINE_CONTROL_GUID(Name, Guid, Bits)                                                  \
  WPP_UWSK_FIRST_##Name = WPP_CTL_##Name * 0x10000, Bits
enum uwsk_wpp_bits { WPP_CONTROL_GUIDS WPP_UWSK_BITS_END };
#undef WPP_DEFINE_BIT
#undef WPP_DEFINE_CONTROL_GUID

/* The control blocks, one per control GUID, shared by every source file of the driver. */
#define WPP_DEFINE_BIT(Name)
#define WPP_DEFINE_CONTROL_GUID(Name, Guid, Bits) {0, {0}, 0, #Name},
#ifdef __cplusplus
extern "C" {
#endif
__attribute__((weak)) struct uwsk_wpp_control WPP_MAIN_CB[] = {WPP_CONTROL_GUIDS};
#ifdef __cplusplus
}
#endif
#undef WPP_DEFINE_BIT
#undef WPP_DEFINE_CONTROL_GUID

#define WPP_CTRL_NO(CTL) ((CTL) >> 16)
#define WPP_FLAG_NO(CTL) ((((CTL)&0xFFFF) - 1) / 32)
#define WPP_MASK(CTL) (1u << ((((CTL)&0xFFFF) - 1) & 31))
#define WPP_CONTROL(CTL) (WPP_MAIN_CB[WPP_CTRL_NO(CTL)])
#define WPP_LEVEL_ENABLED(FLAG)                                                                    \
  ((WPP_CONTROL(WPP_BIT_##FLAG).Flags[WPP_FLAG_NO(WPP_BIT_##FLAG)] & WPP_MASK(WPP_BIT_##FLAG)) != 0)
#define WPP_LEVEL_LOGGER(FLAG) (WPP_CONTROL(WPP_BIT_##FLAG).Logger)
#define WPP_FLAG_ENABLED(FLAG) WPP_LEVEL_ENABLED(FLAG)

#define WPP_INIT_TRACING(DriverObject, RegistryPath)                                               \
  ((void)(DriverObject), (void)(RegistryPath), uwsk_wpp_init(WPP_MAIN_CB, WPP_UWSK_CONTROL_COUNT))
#define WPP_CLEANUP(DriverObject)                                                                  \
  ((void)(DriverObject), uwsk_wpp_cleanup(WPP_MAIN_CB, WPP_UWSK_CONTROL_COUNT))

#endif /* WPP_CONTROL_GUIDS */
