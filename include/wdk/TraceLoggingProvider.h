/*
 * TraceLoggingProvider.h - TraceLogging for drivers run by uwsk: each TraceLoggingWrite of a
 * registered provider is one line of uwsk's log,
 *     tracelogging: MyProvider/ConnectionOpened: port=20007 status=STATUS_SUCCESS name="echo"
 * (provider, event, then each field as name=value; a field given no name is named after its
 * expression, as TraceLogging does). An event's level is that of TraceLoggingLevel, or 5
 * (VERBOSE) without one, as on Windows; events above UWSK_TRACELOGGING_LEVEL (a number or
 * CRITICAL, ERROR, WARNING, INFORMATION, VERBOSE; default VERBOSE, so everything) are not
 * written. Keywords, opcodes, channels, tags, descriptions and activity ids are accepted and not
 * shown. A provider that is not registered writes nothing, as on Windows.
 *
 * TraceLoggingValue picks the field's type from the value's type (overloads in C++, _Generic in
 * C): integers, bool, float and double, narrow and wide strings, other pointers.
 */
#ifndef UWSK_TRACELOGGINGPROVIDER_H
#define UWSK_TRACELOGGINGPROVIDER_H

#include <ntdef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A provider: its name, and whether it is registered. */
struct uwsk_tlg_provider {
  const char *Name;
  volatile LONG Registered;
};
typedef struct uwsk_tlg_provider *TraceLoggingHProvider;

/* What a field holds (uwsk_tlg_field.Kind). */
enum uwsk_tlg_kind {
  UWSK_TLG_END,
  UWSK_TLG_LEVEL,    /* the event's level (Int) */
  UWSK_TLG_META,     /* keyword, opcode, description...: not shown */
  UWSK_TLG_INT,      /* Int, signed decimal */
  UWSK_TLG_UINT,     /* UInt, decimal */
  UWSK_TLG_HEX,      /* UInt, 0x hex */
  UWSK_TLG_REAL,     /* Real */
  UWSK_TLG_BOOL,     /* Int: TRUE or FALSE */
  UWSK_TLG_CHAR,     /* Int: a character */
  UWSK_TLG_STRING,   /* Ptr: NUL-terminated narrow string (Length: counted, when not ~0u) */
  UWSK_TLG_WSTRING,  /* Ptr: NUL-terminated UTF-16 string (Length: counted, when not ~0u) */
  UWSK_TLG_USTRING,  /* Ptr: a UNICODE_STRING */
  UWSK_TLG_ASTRING,  /* Ptr: an ANSI_STRING */
  UWSK_TLG_POINTER,  /* Ptr */
  UWSK_TLG_GUID,     /* Ptr: a GUID */
  UWSK_TLG_STATUS,   /* Int: an NTSTATUS, by name */
  UWSK_TLG_HRESULT,  /* Int: hex */
  UWSK_TLG_WINERROR, /* UInt: decimal */
  UWSK_TLG_BINARY,   /* Ptr, Length bytes: hex */
  UWSK_TLG_SOCKADDR, /* Ptr, Length: a SOCKADDR */
  UWSK_TLG_IPV4,     /* UInt: an address in network order */
  UWSK_TLG_IPV6      /* Ptr: 16 bytes */
};

/* One field of an event, as the field macros below make it. */
struct uwsk_tlg_field {
  int Kind;
  const char *Name;       /* the name given, or NULL */
  const char *Expression; /* the value's expression, the name when none is given */
  long long Int;
  unsigned long long UInt;
  double Real;
  const void *Ptr;
  unsigned int Length;
};

/* TraceLoggingRegister: STATUS_SUCCESS; events are written from now on. */
NTSTATUS uwsk_tlg_register(TraceLoggingHProvider provider);
/* TraceLoggingUnregister. */
void uwsk_tlg_unregister(TraceLoggingHProvider provider);
/* TraceLoggingProviderEnabled: registered and the level within UWSK_TRACELOGGING_LEVEL. */
BOOLEAN uwsk_tlg_enabled(TraceLoggingHProvider provider, UCHAR level);
/* TraceLoggingWrite: writes the event whose fields end with a UWSK_TLG_END one. */
void uwsk_tlg_write(TraceLoggingHProvider provider, const char *event,
                    const struct uwsk_tlg_field *fields);

static inline struct uwsk_tlg_field uwsk_tlg_make(int kind, const char *name,
                                                  const char *expression, long long i,
                                                  unsigned long long u, double d, const void *p,
                                                  unsigned int length) {
  struct uwsk_tlg_field f;
  f.Kind = kind;
  f.Name = name;
  f.Expression = expression;
  f.Int = i;
  f.UInt = u;
  f.Real = d;
  f.Ptr = p;
  f.Length = length;
  return f;
}

#ifdef __cplusplus
}
#endif

/* ---- Providers ------------------------------------------------------------------------------ */

#define TRACELOGGING_DECLARE_PROVIDER(hProvider) extern TraceLoggingHProvider const hProvider
/* The id (the provider GUID in parentheses) and options are Windows' business. */
#define TRACELOGGING_DEFINE_PROVIDER(hProvider, providerName, providerId, ...)                     \
  static struct uwsk_tlg_provider hProvider##_uwsk_storage = {providerName, 0};                    \
  extern TraceLoggingHProvider const hProvider;                                                    \
  TraceLoggingHProvider const hProvider = &hProvider##_uwsk_storage
#define TraceLoggingOptionGroup(...)
#define TraceLoggingRegister(hProvider) uwsk_tlg_register(hProvider)
#define TraceLoggingRegisterEx(hProvider, callback, context)                                       \
  ((void)(callback), (void)(context), uwsk_tlg_register(hProvider))
#define TraceLoggingUnregister(hProvider) uwsk_tlg_unregister(hProvider)
#define TraceLoggingProviderEnabled(hProvider, level, keyword)                                     \
  ((void)(keyword), uwsk_tlg_enabled((hProvider), (UCHAR)(level)))

/* ---- Events --------------------------------------------------------------------------------- */

#define UWSK_TLG_NONAME ((const char *)0)
#define TraceLoggingWrite(hProvider, ...) UWSK_TLG_WRITE_(hProvider, __VA_ARGS__, UWSK_TLG_LAST)
#define TraceLoggingWriteActivity(hProvider, eventName, activityId, relatedActivityId, ...)        \
  ((void)(activityId), (void)(relatedActivityId),                                                  \
   TraceLoggingWrite(hProvider, eventName, __VA_ARGS__))
#define UWSK_TLG_LAST uwsk_tlg_make(UWSK_TLG_END, 0, 0, 0, 0, 0, 0, 0)
#define UWSK_TLG_WRITE_(hProvider, eventName, ...)                                                 \
  do {                                                                                             \
    if ((hProvider)->Registered) {                                                                 \
      const struct uwsk_tlg_field uwsk_tlg_fields_[] = {__VA_ARGS__};                              \
      uwsk_tlg_write((hProvider), (eventName), uwsk_tlg_fields_);                                  \
    }                                                                                              \
  } while (0)

/* The name of a field: the one given, or none (then its expression names it). */
#define UWSK_TLG_NAME_(value, name, ...) name
#define UWSK_TLG_NAME(...) UWSK_TLG_NAME_(__VA_ARGS__, UWSK_TLG_NONAME, ~)
#define UWSK_TLG_NAME2_(a, b, name, ...) name
#define UWSK_TLG_NAME2(...) UWSK_TLG_NAME2_(__VA_ARGS__, UWSK_TLG_NONAME, ~)
#define UWSK_TLG_FIRST_(value, ...) value
#define UWSK_TLG_FIRST(...) UWSK_TLG_FIRST_(__VA_ARGS__, ~)
#define UWSK_TLG_SECOND_(a, b, ...) b
#define UWSK_TLG_SECOND(...) UWSK_TLG_SECOND_(__VA_ARGS__, ~)

#define UWSK_TLG_I(...)                                                                            \
  uwsk_tlg_make(UWSK_TLG_INT, UWSK_TLG_NAME(__VA_ARGS__), UWSK_TLG_STR_FIRST(__VA_ARGS__),         \
                (long long)(UWSK_TLG_FIRST(__VA_ARGS__)), 0, 0, 0, 0)
#define UWSK_TLG_STR_FIRST_(value, ...) #value
#define UWSK_TLG_STR_FIRST(...) UWSK_TLG_STR_FIRST_(__VA_ARGS__, ~)
#define UWSK_TLG_U(kind, ...)                                                                      \
  uwsk_tlg_make(kind, UWSK_TLG_NAME(__VA_ARGS__), UWSK_TLG_STR_FIRST(__VA_ARGS__), 0,              \
                (unsigned long long)(UWSK_TLG_FIRST(__VA_ARGS__)), 0, 0, 0)
#define UWSK_TLG_K(kind, type, ...)                                                                \
  uwsk_tlg_make(kind, UWSK_TLG_NAME(__VA_ARGS__), UWSK_TLG_STR_FIRST(__VA_ARGS__),                 \
                (long long)(type)(UWSK_TLG_FIRST(__VA_ARGS__)), 0, 0, 0, 0)
#define UWSK_TLG_P(kind, ...)                                                                      \
  uwsk_tlg_make(kind, UWSK_TLG_NAME(__VA_ARGS__), UWSK_TLG_STR_FIRST(__VA_ARGS__), 0, 0, 0,        \
                (const void *)(UWSK_TLG_FIRST(__VA_ARGS__)), ~0u)
#define UWSK_TLG_PL(kind, ...)                                                                     \
  uwsk_tlg_make(kind, UWSK_TLG_NAME2(__VA_ARGS__), UWSK_TLG_STR_FIRST(__VA_ARGS__), 0, 0, 0,       \
                (const void *)(UWSK_TLG_FIRST(__VA_ARGS__)),                                       \
                (unsigned int)(UWSK_TLG_SECOND(__VA_ARGS__)))

#define TraceLoggingInt8(...) UWSK_TLG_K(UWSK_TLG_INT, signed char, __VA_ARGS__)
#define TraceLoggingInt16(...) UWSK_TLG_K(UWSK_TLG_INT, short, __VA_ARGS__)
#define TraceLoggingInt32(...) UWSK_TLG_K(UWSK_TLG_INT, int, __VA_ARGS__)
#define TraceLoggingInt64(...) UWSK_TLG_K(UWSK_TLG_INT, long long, __VA_ARGS__)
#define TraceLoggingLong(...) UWSK_TLG_K(UWSK_TLG_INT, int, __VA_ARGS__)
#define TraceLoggingIntPtr(...) UWSK_TLG_K(UWSK_TLG_INT, long long, __VA_ARGS__)
#define TraceLoggingUInt8(...) UWSK_TLG_U(UWSK_TLG_UINT, __VA_ARGS__)
#define TraceLoggingUInt16(...) UWSK_TLG_U(UWSK_TLG_UINT, __VA_ARGS__)
#define TraceLoggingUInt32(...) UWSK_TLG_U(UWSK_TLG_UINT, __VA_ARGS__)
#define TraceLoggingUInt64(...) UWSK_TLG_U(UWSK_TLG_UINT, __VA_ARGS__)
#define TraceLoggingULong(...) UWSK_TLG_U(UWSK_TLG_UINT, __VA_ARGS__)
#define TraceLoggingUIntPtr(...) UWSK_TLG_U(UWSK_TLG_UINT, __VA_ARGS__)
#define TraceLoggingPort(...) UWSK_TLG_U(UWSK_TLG_UINT, __VA_ARGS__)
#define TraceLoggingHexInt8(...) UWSK_TLG_U(UWSK_TLG_HEX, __VA_ARGS__)
#define TraceLoggingHexInt16(...) UWSK_TLG_U(UWSK_TLG_HEX, __VA_ARGS__)
#define TraceLoggingHexInt32(...) UWSK_TLG_U(UWSK_TLG_HEX, __VA_ARGS__)
#define TraceLoggingHexInt64(...) UWSK_TLG_U(UWSK_TLG_HEX, __VA_ARGS__)
#define TraceLoggingHexUInt8(...) UWSK_TLG_U(UWSK_TLG_HEX, __VA_ARGS__)
#define TraceLoggingHexUInt16(...) UWSK_TLG_U(UWSK_TLG_HEX, __VA_ARGS__)
#define TraceLoggingHexUInt32(...) UWSK_TLG_U(UWSK_TLG_HEX, __VA_ARGS__)
#define TraceLoggingHexUInt64(...) UWSK_TLG_U(UWSK_TLG_HEX, __VA_ARGS__)
#define TraceLoggingHexLong(...) UWSK_TLG_U(UWSK_TLG_HEX, __VA_ARGS__)
#define TraceLoggingHexULong(...) UWSK_TLG_U(UWSK_TLG_HEX, __VA_ARGS__)
#define TraceLoggingHexIntPtr(...) UWSK_TLG_U(UWSK_TLG_HEX, __VA_ARGS__)
#define TraceLoggingHexUIntPtr(...) UWSK_TLG_U(UWSK_TLG_HEX, __VA_ARGS__)
#define TraceLoggingIPv4Address(...) UWSK_TLG_U(UWSK_TLG_IPV4, __VA_ARGS__)
#define TraceLoggingWinError(...) UWSK_TLG_U(UWSK_TLG_WINERROR, __VA_ARGS__)
#define TraceLoggingBool(...) UWSK_TLG_K(UWSK_TLG_BOOL, int, __VA_ARGS__)
#define TraceLoggingBoolean(...) UWSK_TLG_K(UWSK_TLG_BOOL, int, __VA_ARGS__)
#define TraceLoggingChar(...) UWSK_TLG_K(UWSK_TLG_CHAR, unsigned char, __VA_ARGS__)
#define TraceLoggingChar16(...) UWSK_TLG_K(UWSK_TLG_CHAR, unsigned short, __VA_ARGS__)
#define TraceLoggingWChar(...) UWSK_TLG_K(UWSK_TLG_CHAR, unsigned short, __VA_ARGS__)
#define TraceLoggingNTStatus(...) UWSK_TLG_K(UWSK_TLG_STATUS, int, __VA_ARGS__)
#define TraceLoggingHResult(...) UWSK_TLG_K(UWSK_TLG_HRESULT, int, __VA_ARGS__)
#define TraceLoggingFloat32(...)                                                                   \
  uwsk_tlg_make(UWSK_TLG_REAL, UWSK_TLG_NAME(__VA_ARGS__), UWSK_TLG_STR_FIRST(__VA_ARGS__), 0, 0,  \
                (double)(UWSK_TLG_FIRST(__VA_ARGS__)), 0, 0)
#define TraceLoggingFloat64(...) TraceLoggingFloat32(__VA_ARGS__)
#define TraceLoggingString(...) UWSK_TLG_P(UWSK_TLG_STRING, __VA_ARGS__)
#define TraceLoggingUtf8String(...) UWSK_TLG_P(UWSK_TLG_STRING, __VA_ARGS__)
#define TraceLoggingWideString(...) UWSK_TLG_P(UWSK_TLG_WSTRING, __VA_ARGS__)
#define TraceLoggingCountedString(...) UWSK_TLG_PL(UWSK_TLG_STRING, __VA_ARGS__)
#define TraceLoggingCountedUtf8String(...) UWSK_TLG_PL(UWSK_TLG_STRING, __VA_ARGS__)
#define TraceLoggingCountedWideString(...) UWSK_TLG_PL(UWSK_TLG_WSTRING, __VA_ARGS__)
#define TraceLoggingUnicodeString(...) UWSK_TLG_P(UWSK_TLG_USTRING, __VA_ARGS__)
#define TraceLoggingAnsiString(...) UWSK_TLG_P(UWSK_TLG_ASTRING, __VA_ARGS__)
#define TraceLoggingPointer(...) UWSK_TLG_P(UWSK_TLG_POINTER, __VA_ARGS__)
#define TraceLoggingIPv6Address(...) UWSK_TLG_P(UWSK_TLG_IPV6, __VA_ARGS__)
#define TraceLoggingGuid(...)                                                                      \
  uwsk_tlg_make(UWSK_TLG_GUID, UWSK_TLG_NAME(__VA_ARGS__), UWSK_TLG_STR_FIRST(__VA_ARGS__), 0, 0,  \
                0, (const void *)&(UWSK_TLG_FIRST(__VA_ARGS__)), 0)
#define TraceLoggingBinary(...) UWSK_TLG_PL(UWSK_TLG_BINARY, __VA_ARGS__)
#define TraceLoggingSocketAddress(...) UWSK_TLG_PL(UWSK_TLG_SOCKADDR, __VA_ARGS__)

/* Event properties. */
#define TraceLoggingLevel(level) uwsk_tlg_make(UWSK_TLG_LEVEL, 0, 0, (long long)(level), 0, 0, 0, 0)
#define UWSK_TLG_IGNORED uwsk_tlg_make(UWSK_TLG_META, 0, 0, 0, 0, 0, 0, 0)
#define TraceLoggingKeyword(keyword) UWSK_TLG_IGNORED
#define TraceLoggingOpcode(opcode) UWSK_TLG_IGNORED
#define TraceLoggingChannel(channel) UWSK_TLG_IGNORED
#define TraceLoggingEventTag(tag) UWSK_TLG_IGNORED
#define TraceLoggingDescription(...) UWSK_TLG_IGNORED
#define TraceLoggingStruct(...) UWSK_TLG_IGNORED

/* TraceLoggingValue: the field's type from the value's. */
static inline struct uwsk_tlg_field uwsk_tlg_value_int(long long v) {
  return uwsk_tlg_make(UWSK_TLG_INT, 0, 0, v, 0, 0, 0, 0);
}
static inline struct uwsk_tlg_field uwsk_tlg_value_uint(unsigned long long v) {
  return uwsk_tlg_make(UWSK_TLG_UINT, 0, 0, 0, v, 0, 0, 0);
}
static inline struct uwsk_tlg_field uwsk_tlg_value_real(double v) {
  return uwsk_tlg_make(UWSK_TLG_REAL, 0, 0, 0, 0, v, 0, 0);
}
static inline struct uwsk_tlg_field uwsk_tlg_value_string(const char *v) {
  return uwsk_tlg_make(UWSK_TLG_STRING, 0, 0, 0, 0, 0, v, ~0u);
}
static inline struct uwsk_tlg_field uwsk_tlg_value_wstring(const WCHAR *v) {
  return uwsk_tlg_make(UWSK_TLG_WSTRING, 0, 0, 0, 0, 0, v, ~0u);
}
static inline struct uwsk_tlg_field uwsk_tlg_value_pointer(const void *v) {
  return uwsk_tlg_make(UWSK_TLG_POINTER, 0, 0, 0, 0, 0, v, 0);
}
static inline struct uwsk_tlg_field uwsk_tlg_value_bool(int v) {
  return uwsk_tlg_make(UWSK_TLG_BOOL, 0, 0, v, 0, 0, 0, 0);
}
static inline struct uwsk_tlg_field uwsk_tlg_named(struct uwsk_tlg_field f, const char *name,
                                                   const char *expression) {
  f.Name = name;
  f.Expression = expression;
  return f;
}

#ifdef __cplusplus
static inline uwsk_tlg_field uwsk_tlg_value(bool v) {
  return uwsk_tlg_value_bool(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(char v) {
  return uwsk_tlg_value_int(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(signed char v) {
  return uwsk_tlg_value_int(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(short v) {
  return uwsk_tlg_value_int(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(int v) {
  return uwsk_tlg_value_int(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(long v) {
  return uwsk_tlg_value_int(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(long long v) {
  return uwsk_tlg_value_int(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(unsigned char v) {
  return uwsk_tlg_value_uint(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(unsigned short v) {
  return uwsk_tlg_value_uint(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(unsigned int v) {
  return uwsk_tlg_value_uint(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(unsigned long v) {
  return uwsk_tlg_value_uint(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(unsigned long long v) {
  return uwsk_tlg_value_uint(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(float v) {
  return uwsk_tlg_value_real(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(double v) {
  return uwsk_tlg_value_real(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(const char *v) {
  return uwsk_tlg_value_string(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(const WCHAR *v) {
  return uwsk_tlg_value_wstring(v);
}
static inline uwsk_tlg_field uwsk_tlg_value(const void *v) {
  return uwsk_tlg_value_pointer(v);
}
#define UWSK_TLG_VALUE_OF(value) uwsk_tlg_value(value)
#else
#define UWSK_TLG_VALUE_OF(value)                                                                   \
  _Generic((value),                                                                            \
      _Bool: uwsk_tlg_value_bool,                                                              \
      char: uwsk_tlg_value_int,                                                                \
      signed char: uwsk_tlg_value_int,                                                         \
      short: uwsk_tlg_value_int,                                                               \
      int: uwsk_tlg_value_int,                                                                 \
      long: uwsk_tlg_value_int,                                                                \
      long long: uwsk_tlg_value_int,                                                           \
      unsigned char: uwsk_tlg_value_uint,                                                      \
      unsigned short: uwsk_tlg_value_uint,                                                     \
      unsigned int: uwsk_tlg_value_uint,                                                       \
      unsigned long: uwsk_tlg_value_uint,                                                      \
      unsigned long long: uwsk_tlg_value_uint,                                                 \
      float: uwsk_tlg_value_real,                                                              \
      double: uwsk_tlg_value_real,                                                             \
      char *: uwsk_tlg_value_string,                                                           \
      const char *: uwsk_tlg_value_string,                                                     \
      WCHAR *: uwsk_tlg_value_wstring,                                                         \
      const WCHAR *: uwsk_tlg_value_wstring,                                                   \
      default: uwsk_tlg_value_pointer)(value)
#endif
#define TraceLoggingValue(...)                                                                     \
  uwsk_tlg_named(UWSK_TLG_VALUE_OF(UWSK_TLG_FIRST(__VA_ARGS__)), UWSK_TLG_NAME(__VA_ARGS__),       \
                 UWSK_TLG_STR_FIRST(__VA_ARGS__))

#endif /* UWSK_TRACELOGGINGPROVIDER_H */
