// IPv4/IPv6 addresses to and from text (ip2string.h), written from the RFCs and the Windows
// documentation; no C library address routine is used.
#include <cstdio>
#include <cstring>
#include <string>

#include <ip2string.h>
#include <wdm.h>

#include "nt/rtl/rtl.hpp"

namespace uwsk::nt {
namespace {

USHORT swap16(USHORT v) {
  return static_cast<USHORT>((v >> 8) | (v << 8));
}

std::string ipv4_text(const IN_ADDR *a) {
  char buf[16];
  const UCHAR *b = reinterpret_cast<const UCHAR *>(a);
  snprintf(buf, sizeof buf, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
  return buf;
}

std::string ipv6_text(const IN6_ADDR *a) {
  const UCHAR *b = a->u.Byte;
  unsigned words[8];
  for (int i = 0; i < 8; ++i) {
    words[i] = (static_cast<unsigned>(b[2 * i]) << 8) | b[2 * i + 1];
  }
  // Dotted IPv4 in the last 32 bits for the address kinds that embed one.
  bool zero64 = words[0] == 0 && words[1] == 0 && words[2] == 0 && words[3] == 0;
  bool mapped = zero64 && words[4] == 0 && words[5] == 0xffff;
  bool translated = zero64 && words[4] == 0xffff && words[5] == 0;
  bool compatible = zero64 && words[4] == 0 && words[5] == 0 && words[6] != 0;
  bool isatap = (words[4] == 0 || words[4] == 0x0200) && words[5] == 0x5efe;
  bool dotted = mapped || translated || compatible || isatap;
  int groups = dotted ? 6 : 8;

  // The longest run of two or more zero groups (the first on a tie) becomes "::".
  int best = -1;
  int best_len = 0;
  for (int i = 0; i < groups;) {
    if (words[i] != 0) {
      ++i;
      continue;
    }
    int j = i;
    while (j < groups && words[j] == 0) {
      ++j;
    }
    if (j - i > best_len) {
      best = i;
      best_len = j - i;
    }
    i = j;
  }
  if (best_len < 2) {
    best = -1;
  }

  std::string out;
  char buf[8];
  for (int i = 0; i < groups;) {
    if (i == best) {
      out += "::";
      i += best_len;
      continue;
    }
    if (!out.empty() && out.back() != ':') {
      out += ':';
    }
    snprintf(buf, sizeof buf, "%x", words[i]);
    out += buf;
    ++i;
  }
  if (dotted) {
    if (!out.empty() && out.back() != ':') {
      out += ':';
    }
    snprintf(buf, sizeof buf, "%u.", b[12]);
    out += buf;
    snprintf(buf, sizeof buf, "%u.", b[13]);
    out += buf;
    snprintf(buf, sizeof buf, "%u.", b[14]);
    out += buf;
    snprintf(buf, sizeof buf, "%u", b[15]);
    out += buf;
  }
  return out;
}

// Copies text (ASCII) with its terminator into a narrow or wide buffer.
template <typename C> C *store(const std::string &text, C *dest) {
  for (size_t i = 0; i <= text.size(); ++i) {
    dest[i] = static_cast<C>(static_cast<unsigned char>(text[i]));
  }
  return dest + text.size();
}

// The Ex to-text contract: room and result in characters, terminator included.
template <typename C> NTSTATUS store_ex(const std::string &text, C *dest, PULONG length) {
  if (dest == nullptr || length == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  ULONG needed = static_cast<ULONG>(text.size() + 1);
  if (*length < needed) {
    *length = needed;
    return STATUS_INVALID_PARAMETER;
  }
  store(text, dest);
  *length = needed;
  return STATUS_SUCCESS;
}

template <typename C> bool is_digit(C c) {
  return c >= '0' && c <= '9';
}
// The value of a hexadecimal digit, or -1 (rtl.hpp's digit_value, limited to base 16).
template <typename C> int hex_value(C c) {
  const int d = digit_value(c);
  return d < 16 ? d : -1;
}

// Parses an IPv4 address at s; returns the end of it, or nullptr (with *bad set to the failing
// position) when the text is not an address.
template <typename C>
const C *parse_ipv4(const C *s, bool strict, ULONG *host_order, const C **bad) {
  unsigned long long parts[4];
  int count = 0;
  const C *p = s;
  for (;;) {
    if (!is_digit(*p)) {
      *bad = p;
      return nullptr;
    }
    unsigned base = 10;
    if (*p == '0' && (p[1] == 'x' || p[1] == 'X')) {
      if (strict) {
        *bad = p + 1;
        return nullptr;
      }
      base = 16;
      p += 2;
      if (hex_value(*p) < 0) {
        *bad = p;
        return nullptr;
      }
    } else if (*p == '0' && is_digit(p[1])) {
      if (strict) {
        *bad = p + 1;
        return nullptr;
      }
      base = 8;
      ++p;
    }
    unsigned long long value = 0;
    for (;;) {
      int d = hex_value(*p);
      if (d < 0 || d >= static_cast<int>(base)) {
        break;
      }
      value = value * base + static_cast<unsigned>(d);
      if (value > 0xFFFFFFFFull) {
        *bad = p;
        return nullptr;
      }
      ++p;
    }
    parts[count++] = value;
    if (*p == '.' && count < 4) {
      ++p;
      continue;
    }
    break;
  }
  if (strict && count != 4) {
    *bad = p;
    return nullptr;
  }
  // The last part fills the bytes the others leave (a, a.b, a.b.c forms).
  static constexpr unsigned long long last_max[] = {0xFFFFFFFFull, 0xFFFFFFull, 0xFFFFull, 0xFFull};
  for (int i = 0; i < count - 1; ++i) {
    if (parts[i] > 0xFF) {
      *bad = p;
      return nullptr;
    }
  }
  if (parts[count - 1] > last_max[count - 1]) {
    *bad = p;
    return nullptr;
  }
  ULONG v = 0;
  for (int i = 0; i < count - 1; ++i) {
    v |= static_cast<ULONG>(parts[i]) << (24 - 8 * i);
  }
  v |= static_cast<ULONG>(parts[count - 1]);
  *host_order = v;
  return p;
}

void set_ipv4(IN_ADDR *addr, ULONG host_order) {
  UCHAR *b = reinterpret_cast<UCHAR *>(addr);
  b[0] = static_cast<UCHAR>(host_order >> 24);
  b[1] = static_cast<UCHAR>(host_order >> 16);
  b[2] = static_cast<UCHAR>(host_order >> 8);
  b[3] = static_cast<UCHAR>(host_order);
}

// Parses an IPv6 address (RFC 4291 section 2.2 forms); same contract as parse_ipv4.
template <typename C> const C *parse_ipv6(const C *s, IN6_ADDR *addr, const C **bad) {
  unsigned words[8] = {};
  int n = 0;
  int gap = -1;
  const C *p = s;
  if (*p == ':') {
    if (p[1] != ':') {
      *bad = p + 1;
      return nullptr;
    }
    gap = 0;
    p += 2;
  }
  while (n < 8 && hex_value(*p) >= 0) {
    const C *q = p;
    while (hex_value(*q) >= 0) {
      ++q;
    }
    if (*q == '.') {
      // Dotted IPv4 in the last 32 bits.
      if (n > 6) {
        *bad = p;
        return nullptr;
      }
      ULONG v4;
      const C *end = parse_ipv4(p, true, &v4, bad);
      if (end == nullptr) {
        return nullptr;
      }
      words[n++] = v4 >> 16;
      words[n++] = v4 & 0xFFFF;
      p = end;
      break;
    }
    if (q - p > 4) {
      *bad = p + 4;
      return nullptr;
    }
    unsigned v = 0;
    for (; p < q; ++p) {
      v = (v << 4) | static_cast<unsigned>(hex_value(*p));
    }
    words[n++] = v;
    if (*p != ':' || n == 8) {
      break;
    }
    if (p[1] == ':') {
      if (gap >= 0) {
        *bad = p + 1;
        return nullptr;
      }
      gap = n;
      p += 2;
      continue; // the address may end right after "::"
    }
    if (hex_value(p[1]) < 0) {
      *bad = p + 1;
      return nullptr;
    }
    ++p;
  }
  if (gap >= 0 ? n > 7 : n != 8) {
    *bad = p;
    return nullptr;
  }
  unsigned full[8] = {};
  if (gap >= 0) {
    for (int i = 0; i < gap; ++i) {
      full[i] = words[i];
    }
    int tail = n - gap;
    for (int i = 0; i < tail; ++i) {
      full[8 - tail + i] = words[gap + i];
    }
  } else {
    std::memcpy(full, words, sizeof full);
  }
  for (int i = 0; i < 8; ++i) {
    addr->u.Byte[2 * i] = static_cast<UCHAR>(full[i] >> 8);
    addr->u.Byte[2 * i + 1] = static_cast<UCHAR>(full[i]);
  }
  return p;
}

// Parses a decimal port (1-5 digits, at most 65535) that must end the string.
template <typename C> bool parse_port(const C *p, USHORT *port) {
  unsigned long v = 0;
  int digits = 0;
  while (is_digit(*p)) {
    v = v * 10 + static_cast<unsigned>(*p - '0');
    if (++digits > 5 || v > 0xFFFF) {
      return false;
    }
    ++p;
  }
  if (digits == 0 || *p != 0) {
    return false;
  }
  *port = swap16(static_cast<USHORT>(v));
  return true;
}

template <typename C>
NTSTATUS ipv4_from_text(const C *s, BOOLEAN strict, const C **terminator, IN_ADDR *addr) {
  if (s == nullptr || addr == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  ULONG v;
  const C *bad = s;
  const C *end = parse_ipv4(s, strict, &v, &bad);
  if (terminator != nullptr) {
    *terminator = end != nullptr ? end : bad;
  }
  if (end == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  set_ipv4(addr, v);
  return STATUS_SUCCESS;
}

template <typename C>
NTSTATUS ipv4_from_text_ex(const C *s, BOOLEAN strict, IN_ADDR *addr, PUSHORT port) {
  if (s == nullptr || addr == nullptr || port == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  ULONG v;
  const C *bad;
  const C *end = parse_ipv4(s, strict, &v, &bad);
  if (end == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  USHORT p = 0;
  if (*end == ':') {
    if (!parse_port(end + 1, &p)) {
      return STATUS_INVALID_PARAMETER;
    }
  } else if (*end != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  set_ipv4(addr, v);
  *port = p;
  return STATUS_SUCCESS;
}

template <typename C> NTSTATUS ipv6_from_text(const C *s, const C **terminator, IN6_ADDR *addr) {
  if (s == nullptr || addr == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  const C *bad = s;
  IN6_ADDR parsed;
  const C *end = parse_ipv6(s, &parsed, &bad);
  if (terminator != nullptr) {
    *terminator = end != nullptr ? end : bad;
  }
  if (end == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  *addr = parsed;
  return STATUS_SUCCESS;
}

// "addr", "addr%scope", "[addr]", "[addr%scope]", "[addr]:port", "[addr%scope]:port".
template <typename C>
NTSTATUS ipv6_from_text_ex(const C *s, IN6_ADDR *addr, PULONG scope_id, PUSHORT port) {
  if (s == nullptr || addr == nullptr || scope_id == nullptr || port == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  bool bracketed = *s == '[';
  const C *p = bracketed ? s + 1 : s;
  const C *bad;
  IN6_ADDR parsed;
  p = parse_ipv6(p, &parsed, &bad);
  if (p == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  unsigned long long scope = 0;
  if (*p == '%') {
    ++p;
    if (!is_digit(*p)) {
      return STATUS_INVALID_PARAMETER;
    }
    while (is_digit(*p)) {
      scope = scope * 10 + static_cast<unsigned>(*p - '0');
      if (scope > 0xFFFFFFFFull) {
        return STATUS_INVALID_PARAMETER;
      }
      ++p;
    }
  }
  USHORT pt = 0;
  if (bracketed) {
    if (*p != ']') {
      return STATUS_INVALID_PARAMETER;
    }
    ++p;
    if (*p == ':') {
      if (!parse_port(p + 1, &pt)) {
        return STATUS_INVALID_PARAMETER;
      }
    } else if (*p != 0) {
      return STATUS_INVALID_PARAMETER;
    }
  } else if (*p != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  *addr = parsed;
  *scope_id = static_cast<ULONG>(scope);
  *port = pt;
  return STATUS_SUCCESS;
}

std::string ipv4_text_ex(const IN_ADDR *a, USHORT port) {
  std::string text = ipv4_text(a);
  if (port != 0) {
    // Appended piecewise: GCC 12 -O2 misreads ":" + std::to_string(...) as an overlapping
    // copy (-Wrestrict).
    text += ':';
    text += std::to_string(swap16(port));
  }
  return text;
}

std::string ipv6_text_ex(const IN6_ADDR *a, ULONG scope, USHORT port) {
  std::string text = ipv6_text(a);
  if (scope != 0) {
    text += '%';
    text += std::to_string(scope);
  }
  if (port != 0) {
    text.insert(0, 1, '[');
    text += "]:";
    text += std::to_string(swap16(port));
  }
  return text;
}

} // namespace
} // namespace uwsk::nt

using namespace uwsk::nt;

// RtlIpv4AddressToStringA: "a.b.c.d" into S (16 characters); returns the terminator's address.
extern "C" PSTR NTAPI RtlIpv4AddressToStringA(const IN_ADDR *Addr, PSTR S) {
  return store(ipv4_text(Addr), S);
}

// RtlIpv4AddressToStringW: wide RtlIpv4AddressToStringA.
extern "C" PWSTR NTAPI RtlIpv4AddressToStringW(const IN_ADDR *Addr, PWSTR S) {
  return store(ipv4_text(Addr), S);
}

// Deliberate family (duplicates): the A and W forms of each Rtl IP address export, one shared
// template body each.
// RtlIpv4AddressToStringExA: "a.b.c.d[:port]" with the length contract of the Ex forms.
extern "C" NTSTATUS NTAPI RtlIpv4AddressToStringExA(const IN_ADDR *Address, USHORT Port,
                                                    PSTR AddressString,
                                                    PULONG AddressStringLength) {
  if (Address == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  return store_ex(ipv4_text_ex(Address, Port), AddressString, AddressStringLength);
}

// RtlIpv4AddressToStringExW: wide RtlIpv4AddressToStringExA.
extern "C" NTSTATUS NTAPI RtlIpv4AddressToStringExW(const IN_ADDR *Address, USHORT Port,
                                                    PWSTR AddressString,
                                                    PULONG AddressStringLength) {
  if (Address == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  return store_ex(ipv4_text_ex(Address, Port), AddressString, AddressStringLength);
}

// RtlIpv4StringToAddressA: parses an IPv4 address; *Terminator points past it.
extern "C" NTSTATUS NTAPI RtlIpv4StringToAddressA(PCSTR S, BOOLEAN Strict, PCSTR *Terminator,
                                                  IN_ADDR *Addr) {
  return ipv4_from_text(S, Strict, Terminator, Addr);
}

// RtlIpv4StringToAddressW: wide RtlIpv4StringToAddressA.
extern "C" NTSTATUS NTAPI RtlIpv4StringToAddressW(PCWSTR S, BOOLEAN Strict, LPCWSTR *Terminator,
                                                  IN_ADDR *Addr) {
  return ipv4_from_text(S, Strict, Terminator, Addr);
}

// RtlIpv4StringToAddressExA: parses "address[:port]" (the whole string).
extern "C" NTSTATUS NTAPI RtlIpv4StringToAddressExA(PCSTR AddressString, BOOLEAN Strict,
                                                    IN_ADDR *Address, PUSHORT Port) {
  return ipv4_from_text_ex(AddressString, Strict, Address, Port);
}

// RtlIpv4StringToAddressExW: wide RtlIpv4StringToAddressExA.
extern "C" NTSTATUS NTAPI RtlIpv4StringToAddressExW(PCWSTR AddressString, BOOLEAN Strict,
                                                    IN_ADDR *Address, PUSHORT Port) {
  return ipv4_from_text_ex(AddressString, Strict, Address, Port);
}

// RtlIpv6AddressToStringA: RFC 5952 text into S (46 characters); returns the terminator's
// address.
extern "C" PSTR NTAPI RtlIpv6AddressToStringA(const IN6_ADDR *Addr, PSTR S) {
  return store(ipv6_text(Addr), S);
}

// RtlIpv6AddressToStringW: wide RtlIpv6AddressToStringA.
extern "C" PWSTR NTAPI RtlIpv6AddressToStringW(const IN6_ADDR *Addr, PWSTR S) {
  return store(ipv6_text(Addr), S);
}

// RtlIpv6AddressToStringExA: "addr[%scope]", or "[addr[%scope]]:port" when Port is non-zero.
extern "C" NTSTATUS NTAPI RtlIpv6AddressToStringExA(const IN6_ADDR *Address, ULONG ScopeId,
                                                    USHORT Port, PSTR AddressString,
                                                    PULONG AddressStringLength) {
  if (Address == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  return store_ex(ipv6_text_ex(Address, ScopeId, Port), AddressString, AddressStringLength);
}

// RtlIpv6AddressToStringExW: wide RtlIpv6AddressToStringExA.
extern "C" NTSTATUS NTAPI RtlIpv6AddressToStringExW(const IN6_ADDR *Address, ULONG ScopeId,
                                                    USHORT Port, PWSTR AddressString,
                                                    PULONG AddressStringLength) {
  if (Address == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  return store_ex(ipv6_text_ex(Address, ScopeId, Port), AddressString, AddressStringLength);
}

// RtlIpv6StringToAddressA: parses an IPv6 address; *Terminator points past it.
extern "C" NTSTATUS NTAPI RtlIpv6StringToAddressA(PCSTR S, PCSTR *Terminator, IN6_ADDR *Addr) {
  return ipv6_from_text(S, Terminator, Addr);
}

// RtlIpv6StringToAddressW: wide RtlIpv6StringToAddressA.
extern "C" NTSTATUS NTAPI RtlIpv6StringToAddressW(PCWSTR S, PCWSTR *Terminator, IN6_ADDR *Addr) {
  return ipv6_from_text(S, Terminator, Addr);
}

// RtlIpv6StringToAddressExA: parses an address with optional scope, brackets and port.
extern "C" NTSTATUS NTAPI RtlIpv6StringToAddressExA(PCSTR AddressString, IN6_ADDR *Address,
                                                    PULONG ScopeId, PUSHORT Port) {
  return ipv6_from_text_ex(AddressString, Address, ScopeId, Port);
}

// RtlIpv6StringToAddressExW: wide RtlIpv6StringToAddressExA.
extern "C" NTSTATUS NTAPI RtlIpv6StringToAddressExW(PCWSTR AddressString, IN6_ADDR *Address,
                                                    PULONG ScopeId, PUSHORT Port) {
  return ipv6_from_text_ex(AddressString, Address, ScopeId, Port);
}
