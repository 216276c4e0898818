// IRP-based calls for provider tests: an IRP whose completion routine signals an event and
// returns STATUS_MORE_PROCESSING_REQUIRED, with its outputs preset to 0xdeadbeef, and a buffer
// with its MDL and WSK_BUF. (Header only: test files include <wsk.h>, so no Linux socket header
// may appear here.)
#pragma once

#include <cstring>
#include <string>
#include <vector>

#include <wdm.h>
#include <wsk.h>

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
    LARGE_INTEGER timeout;
    timeout.QuadPart = -static_cast<LONGLONG>(ms) * 10000;
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

} // namespace uwsk::test
