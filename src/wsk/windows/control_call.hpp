// The completion policy of WskControlSocket and WskControlClient (docs/wsk-behaviour.md,
// "WskControlSocket" and "WskControlClient"), shared by their Windows halves
// (windows/control.cpp, windows/control_client.cpp).
#pragma once

#include <wdm.h>

#include "nt/dbg/verifier.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/sockets.hpp"

namespace uwsk::wsk {

// Whether a control request takes an IRP (rule V65; docs/wsk-behaviour.md, "Which requests take
// an IRP").
enum class irp_rule : UCHAR { required, must_be_null, optional };

inline bool irp_fits(irp_rule rule, PIRP irp) {
  switch (rule) {
  case irp_rule::required:
    return irp != nullptr;
  case irp_rule::must_be_null:
    return irp == nullptr;
  case irp_rule::optional:
    break;
  }
  return true;
}

// irp_fits, and when the IRP does not fit a verifier warning naming rule `rule_number` (V60 for
// SO_WSK_EVENT_CALLBACK, V65 for other control requests); the caller returns the status.
inline bool irp_fits_reported(irp_rule rule, PIRP irp, int rule_number, const char *request) {
  if (irp_fits(rule, irp)) {
    return true;
  }
  nt::verifier::warning(rule_number,
                        rule == irp_rule::required
                            ? "a control request that requires an IRP was made without one; it "
                              "fails with STATUS_INVALID_PARAMETER"
                            : "a control request that takes no IRP was made with one; it fails "
                              "with STATUS_INVALID_PARAMETER",
                        nt::verifier::objects_text("%s, IRP %p", request, static_cast<void *>(irp)),
                        reinterpret_cast<ULONG_PTR>(irp));
  return false;
}

// One control call: its IRP (entered on construction, IRP policy rule 1), its
// OutputSizeReturned pointer, and for WskControlSocket its socket.
class control_call {
public:
  control_call(PIRP irp, SIZE_T *output_size_returned, socket_object *socket = nullptr)
      : irp_(irp), returned_(output_size_returned), socket_(socket) {
    if (irp != nullptr && output_size_returned != nullptr) {
      nt::verifier::warning(68,
                            "OutputSizeReturned was given with an IRP: the size comes back in "
                            "Irp->IoStatus.Information, and OutputSizeReturned is for calls "
                            "without an IRP only (it is left untouched)",
                            nt::verifier::objects_text("IRP %p, OutputSizeReturned %p",
                                                       static_cast<void *>(irp),
                                                       static_cast<void *>(output_size_returned)));
    }
    irp_enter(irp_);
  }
  // With an IRP: completes it with `status` and Information = `written` (the bytes written to
  // the output buffer) and returns `status` (a socket's call may pend instead under the pend
  // fault: socket_finish_call). Without one: returns `status` and, on success or
  // STATUS_BUFFER_OVERFLOW (where `written` is the size needed), stores `written` in
  // *OutputSizeReturned when the caller gave it.
  NTSTATUS finish(NTSTATUS status, SIZE_T written = 0) {
    if (irp_ != nullptr) {
      return socket_ != nullptr ? socket_finish_call(socket_, irp_, status, written)
                                : irp_complete(irp_, status, written);
    }
    if (returned_ != nullptr && (NT_SUCCESS(status) || status == STATUS_BUFFER_OVERFLOW)) {
      *returned_ = written;
    }
    return status;
  }
  PIRP irp() const { return irp_; }

private:
  PIRP irp_;
  SIZE_T *returned_;
  socket_object *socket_;
};

} // namespace uwsk::wsk
