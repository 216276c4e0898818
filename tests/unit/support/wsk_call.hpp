// IRP-based calls for provider tests: an IRP whose completion routine signals an event and
// returns STATUS_MORE_PROCESSING_REQUIRED, with its outputs preset to 0xdeadbeef, and a buffer
// with its MDL and WSK_BUF. (Header only: test files include <wsk.h>, so no Linux socket header
// may appear here.)
#pragma once

#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include <wdm.h>
#include <wsk.h>

#include "support/timing.hpp"

namespace uwsk::test {

inline constexpr ULONG_PTR sentinel = 0xdeadbeef;
inline constexpr int timeout_ms = 5000;

// One IRP-based call: the IRP, its completion signal, and what the call and the IRP said.
struct call {
  PIRP irp = IoAllocateIrp(1, FALSE);
  KEVENT done;
  NTSTATUS returned = static_cast<NTSTATUS>(sentinel);
  call() {
    KeInitializeEvent(&done, NotificationEvent, FALSE);
    irp->IoStatus.Status = static_cast<NTSTATUS>(sentinel);
    irp->IoStatus.Information = sentinel;
    IoSetCompletionRoutine(irp, on_complete, &done, TRUE, TRUE, TRUE);
  }
  ~call() { IoFreeIrp(irp); }
  call(const call &) = delete;
  call &operator=(const call &) = delete;
  static NTSTATUS NTAPI on_complete(PDEVICE_OBJECT, PIRP, PVOID context) {
    KeSetEvent(static_cast<PKEVENT>(context), IO_NO_INCREMENT, FALSE);
    return STATUS_MORE_PROCESSING_REQUIRED;
  }
  // Waits (bounded) for completion; returns the IRP's final status.
  NTSTATUS wait(int ms = timeout_ms) {
    LARGE_INTEGER timeout = relative_ms(ms);
    if (KeWaitForSingleObject(&done, Executive, KernelMode, FALSE, &timeout) == STATUS_TIMEOUT) {
      return STATUS_TIMEOUT;
    }
    return irp->IoStatus.Status;
  }
  bool completed() { return KeReadStateEvent(&done) != 0; }
  ULONG_PTR information() const { return irp->IoStatus.Information; }
};

// A buffer with its MDL and WSK_BUF.
struct buffer {
  std::vector<unsigned char> bytes;
  PMDL mdl;
  WSK_BUF wsk;
  explicit buffer(std::size_t size, unsigned char fill = 0) : bytes(size, fill) {
    mdl = IoAllocateMdl(bytes.data(), static_cast<ULONG>(size), FALSE, FALSE, nullptr);
    MmBuildMdlForNonPagedPool(mdl);
    wsk = {mdl, 0, size};
  }
  explicit buffer(const char *text) : buffer(std::strlen(text)) {
    std::memcpy(bytes.data(), text, bytes.size());
  }
  ~buffer() { IoFreeMdl(mdl); }
  buffer(const buffer &) = delete;
  buffer &operator=(const buffer &) = delete;
  std::string text(std::size_t n) const { return std::string(bytes.begin(), bytes.begin() + n); }
};

// Appends the bytes a WSK_BUF describes (Length bytes from Offset on, along its MDL chain) to
// *out when out is not null; returns how many there are.
inline SIZE_T append_wsk_buf_bytes(const WSK_BUF &b, std::string *out) {
  SIZE_T offset = b.Offset;
  SIZE_T left = b.Length;
  SIZE_T total = 0;
  for (PMDL m = b.Mdl; m != nullptr && left > 0; m = m->Next) {
    auto *base = static_cast<const char *>(MmGetSystemAddressForMdlSafe(m, NormalPagePriority));
    const SIZE_T n = std::min<SIZE_T>(MmGetMdlByteCount(m) - offset, left);
    if (out != nullptr) {
      out->append(base + offset, n);
    }
    total += n;
    left -= n;
    offset = 0;
  }
  return total;
}

// The bytes a WSK_BUF describes.
inline std::string wsk_buf_bytes(const WSK_BUF &b) {
  std::string out;
  append_wsk_buf_bytes(b, &out);
  return out;
}

// A Windows socket address of either family.
union address {
  SOCKADDR sa;
  SOCKADDR_IN v4;
  SOCKADDR_IN6 v6;
};

// An IPv4 address given in host order, or for family 6 ::1 (or :: when `wildcard`).
inline address make_address(int family, ULONG ipv4, unsigned short port, bool wildcard = false) {
  address a;
  std::memset(&a, 0, sizeof(a));
  if (family == 6) {
    const IN6_ADDR loopback6 = IN6ADDR_LOOPBACK_INIT;
    const IN6_ADDR any6 = IN6ADDR_ANY_INIT;
    a.v6.sin6_family = AF_INET6;
    a.v6.sin6_port = RtlUshortByteSwap(port);
    a.v6.sin6_addr = wildcard ? any6 : loopback6;
  } else {
    a.v4.sin_family = AF_INET;
    a.v4.sin_port = RtlUshortByteSwap(port);
    a.v4.sin_addr.s_addr = RtlUlongByteSwap(wildcard ? INADDR_ANY : ipv4);
  }
  return a;
}
inline address loopback(int family, unsigned short port) {
  return make_address(family, INADDR_LOOPBACK, port);
}
inline unsigned short port_of(const address &a) {
  return RtlUshortByteSwap(a.sa.sa_family == AF_INET6 ? a.v6.sin6_port : a.v4.sin_port);
}

// The provider table of a socket, as the category the test created it with.
template <typename Dispatch> const Dispatch *of(PWSK_SOCKET s) {
  return static_cast<const Dispatch *>(s->Dispatch);
}

// WskCloseSocket, which always succeeds.
inline void close_socket(PWSK_SOCKET s) {
  call c;
  c.returned = of<WSK_PROVIDER_BASIC_DISPATCH>(s)->WskCloseSocket(s, c.irp);
  EXPECT_TRUE(c.returned == STATUS_SUCCESS || c.returned == STATUS_PENDING);
  EXPECT_EQ(c.wait(), STATUS_SUCCESS);
}

// WskBind (at the same slot in every table that has one); returns the IRP's final status,
// checked equal to the returned one (unless the call pended, as the pend fault makes it), with
// Information 0.
inline NTSTATUS bind_socket(PWSK_SOCKET s, const address &a) {
  call c;
  c.returned =
      of<WSK_PROVIDER_CONNECTION_DISPATCH>(s)->WskBind(s, const_cast<PSOCKADDR>(&a.sa), 0, c.irp);
  const NTSTATUS final_status = c.wait();
  EXPECT_TRUE(c.returned == final_status || c.returned == STATUS_PENDING)
      << std::hex << c.returned << " " << final_status;
  EXPECT_EQ(c.information(), 0u);
  return final_status;
}

// SO_WSK_EVENT_CALLBACK with `mask` for the WSK interface, with the IRP of *c when given (none
// otherwise); returns what WskControlSocket returned.
inline NTSTATUS set_events(PWSK_SOCKET s, ULONG mask, call *c = nullptr) {
  WSK_EVENT_CALLBACK_CONTROL ctl = {&NPI_WSK_INTERFACE_ID, mask};
  return of<WSK_PROVIDER_BASIC_DISPATCH>(s)->WskControlSocket(
      s, WskSetOption, SO_WSK_EVENT_CALLBACK, SOL_SOCKET, sizeof(ctl), &ctl, 0, nullptr, nullptr,
      c != nullptr ? c->irp : nullptr);
}

} // namespace uwsk::test
