// WskControlSocket, Windows half: the rules of each option and IOCTL (docs/wsk-behaviour.md,
// "WskControlSocket"), the decoding of the WSK structures, and the completion policy. The work
// is done by socket_control (linux/control.cpp).
//
// Completion policy (docs/design.md): with an IRP, the IRP is completed with the final status and
// Information = the bytes written to OutputBuffer, and that status is returned (or
// STATUS_PENDING for SIO_ADDRESS_LIST_CHANGE). Without an IRP the status is returned and, on
// success or STATUS_BUFFER_OVERFLOW, *OutputSizeReturned (when given) receives the bytes written
// or needed. A call that breaks an IRP rule (an IRP where it must be NULL, none where one is
// required) gets STATUS_INVALID_PARAMETER; a given IRP is then completed with it.
#include <mstcpip.h>
#include <wsk.h>

#include <cstring>

#include <uwsk/log.h>

#include "nt/ke/irql.hpp"
#include "wsk/windows/control_call.hpp"
#include "wsk/views.hpp"
#include "wsk/sockets.hpp"
#include "wsk/control.hpp"
#include "wsk/windows/socket_level.hpp"

namespace uwsk::wsk {
namespace {

constexpr UCHAR bit(category cat) {
  return static_cast<UCHAR>(1u << static_cast<unsigned>(cat));
}
constexpr UCHAR any_category = 0x1f;
constexpr UCHAR connection_oriented = bit(category::connection) | bit(category::stream);
constexpr UCHAR tcp_categories = bit(category::listen) | connection_oriented;

// The IOCTLs WSK documents (docs/wsk-behaviour.md, "IOCTLs"), and SIO_KEEPALIVE_VALS, which
// Winsock clients carry over. An IOCTL on a socket of another category gets
// STATUS_NOT_SUPPORTED; an unknown code STATUS_INVALID_DEVICE_REQUEST, the WDM status for a
// control code a driver does not know.
struct ioctl_rule {
  ULONG code;
  control_op op;
  irp_rule irp;
  UCHAR categories;
  bool passive_only; // PASSIVE_LEVEL only: SIO_ADDRESS_LIST_*, SIO_LOOPBACK_FAST_PATH
  SIZE_T output_min; // the smallest OutputSize accepted (STATUS_BUFFER_TOO_SMALL below)
};

constexpr ioctl_rule ioctl_rules[] = {
    {SIO_WSK_SET_REMOTE_ADDRESS, control_op::set_remote_address, irp_rule::required,
     bit(category::datagram), false, 0},
    {SIO_WSK_SET_SENDTO_ADDRESS, control_op::set_sendto_address, irp_rule::required,
     bit(category::datagram), false, 0},
    {SIO_WSK_QUERY_IDEAL_SEND_BACKLOG, control_op::query_send_backlog, irp_rule::required,
     connection_oriented, false, sizeof(SIZE_T)},
    {SIO_WSK_QUERY_RECEIVE_BACKLOG, control_op::query_receive_backlog, irp_rule::required,
     connection_oriented, false, sizeof(SIZE_T)},
    {SIO_WSK_QUERY_INSPECT_ID, control_op::query_inspect_id, irp_rule::must_be_null, any_category,
     false, 0},
    {SIO_WSK_SET_TCP_SILENT_MODE, control_op::set_silent_mode, irp_rule::required,
     connection_oriented, false, 0},
    {SIO_KEEPALIVE_VALS, control_op::keepalive_values, irp_rule::required, tcp_categories, false,
     0},
    {SIO_ADDRESS_LIST_QUERY, control_op::address_list_query, irp_rule::must_be_null, any_category,
     true, 0},
    {SIO_ADDRESS_LIST_CHANGE, control_op::address_list_change, irp_rule::required, any_category,
     true, 0},
    {SIO_LOOPBACK_FAST_PATH, control_op::loopback_fast_path, irp_rule::required, tcp_categories,
     true, 0},
};

socket_object *socket_of(PWSK_SOCKET socket) {
  return socket_checked(socket, "WskControlSocket");
}

// SO_WSK_EVENT_CALLBACK (docs/wsk-behaviour.md, "Enabling and disabling events"): enabling
// takes any flags valid for the category and no IRP; disabling takes exactly one of them with
// WSK_EVENT_DISABLE and an optional IRP.
NTSTATUS event_callback(socket_object *s, SIZE_T input_size, const void *input, control_call &c) {
  if (input == nullptr || input_size < sizeof(WSK_EVENT_CALLBACK_CONTROL)) {
    return c.finish(STATUS_INVALID_PARAMETER);
  }
  WSK_EVENT_CALLBACK_CONTROL control;
  std::memcpy(&control, input, sizeof(control));
  if (control.NpiId == nullptr) {
    return c.finish(STATUS_INVALID_PARAMETER);
  }
  // No extension interfaces exist, so any other NPI is unsupported (Windows names no status).
  if (std::memcmp(control.NpiId, &NPI_WSK_INTERFACE_ID, sizeof(NPIID)) != 0) {
    return c.finish(STATUS_NOT_SUPPORTED);
  }
  const ULONG valid = events_valid_for(socket_category(s));
  const bool disable = (control.EventMask & WSK_EVENT_DISABLE) != 0;
  const ULONG events = control.EventMask & ~WSK_EVENT_DISABLE;
  const bool one_event = events != 0 && (events & (events - 1)) == 0;
  if (events == 0 || (disable && !one_event)) {
    nt::verifier::warning(
        60,
        "SO_WSK_EVENT_CALLBACK with no event, or a disable that names other "
        "than exactly one event; it fails with STATUS_INVALID_PARAMETER",
        nt::verifier::objects_text("socket %p, EventMask 0x%lx", static_cast<void *>(s),
                                   static_cast<unsigned long>(control.EventMask)));
    return c.finish(STATUS_INVALID_PARAMETER);
  }
  if ((events & ~valid) != 0) {
    nt::verifier::warning(61,
                          "SO_WSK_EVENT_CALLBACK names events of another socket category; it "
                          "fails with STATUS_INVALID_PARAMETER",
                          nt::verifier::objects_text("socket %p, EventMask 0x%lx, valid 0x%lx",
                                                     static_cast<void *>(s),
                                                     static_cast<unsigned long>(control.EventMask),
                                                     static_cast<unsigned long>(valid)));
    return c.finish(STATUS_INVALID_PARAMETER);
  }
  if (!irp_fits_reported(disable ? irp_rule::optional : irp_rule::must_be_null, c.irp(), 60,
                         "WskControlSocket(SO_WSK_EVENT_CALLBACK enable)")) {
    return c.finish(STATUS_INVALID_PARAMETER);
  }
  control_request request;
  request.op = control_op::set_event_mask;
  request.event_mask = control.EventMask;
  SIZE_T written = 0;
  const NTSTATUS status = socket_control(s, request, c.irp(), &written);
  if (status == STATUS_PENDING) {
    return status; // a disable waits for a running callback; the IRP completes after it
  }
  return c.finish(status);
}

NTSTATUS option(socket_object *s, WSK_CONTROL_SOCKET_TYPE type, ULONG name, ULONG level,
                SIZE_T input_size, PVOID input, SIZE_T output_size, PVOID output, control_call &c) {
  if (level == SOL_SOCKET && name == SO_WSK_EVENT_CALLBACK) {
    if (type != WskSetOption) {
      return c.finish(STATUS_INVALID_PARAMETER); // a set-only option
    }
    return event_callback(s, input_size, input, c);
  }
  // Every other option needs an IRP, for get as for set (rule V65).
  if (!irp_fits_reported(irp_rule::required, c.irp(), 65, "WskControlSocket(option)")) {
    return c.finish(STATUS_INVALID_PARAMETER);
  }
  control_request request;
  request.level = level;
  request.name = name;
  request.input = input;
  request.input_size = input_size;
  request.output = output;
  request.output_size = output_size;
  if (level == SOL_SOCKET && name == SO_WSK_SECURITY) {
    if (type == WskSetOption) {
      if (input == nullptr || input_size < sizeof(PSECURITY_DESCRIPTOR)) {
        return c.finish(STATUS_INVALID_PARAMETER);
      }
      request.op = control_op::set_security;
      std::memcpy(&request.security, input, sizeof(PSECURITY_DESCRIPTOR));
    } else {
      request.op = control_op::get_security;
    }
  } else {
    request.op = type == WskSetOption ? control_op::set_option : control_op::get_option;
  }
  SIZE_T written = 0;
  const NTSTATUS status = socket_control(s, request, nullptr, &written);
  return c.finish(status, written);
}

NTSTATUS ioctl(socket_object *s, ULONG code, SIZE_T input_size, PVOID input, SIZE_T output_size,
               PVOID output, control_call &c) {
  if (code == SIO_WSK_REGISTER_EXTENSION) {
    // No extension interface is defined, so every registration is refused.
    if (c.irp() != nullptr || input == nullptr || input_size < sizeof(WSK_EXTENSION_CONTROL_IN)) {
      return c.finish(STATUS_INVALID_PARAMETER);
    }
    return c.finish(STATUS_NOT_SUPPORTED);
  }
  const ioctl_rule *rule = nullptr;
  for (const auto &row : ioctl_rules) {
    if (row.code == code) {
      rule = &row;
      break;
    }
  }
  if (rule == nullptr) {
    return c.finish(STATUS_INVALID_DEVICE_REQUEST);
  }
  if (!irp_fits_reported(rule->irp, c.irp(), 65, "WskControlSocket(ioctl)")) {
    return c.finish(STATUS_INVALID_PARAMETER);
  }
  if (rule->passive_only) {
    nt::require_irql_at_most(PASSIVE_LEVEL,
                             "WskControlSocket (SIO_ADDRESS_LIST_* or "
                             "SIO_LOOPBACK_FAST_PATH)",
                             s, __builtin_return_address(0), 70);
  }
  if ((rule->categories & bit(socket_category(s))) == 0) {
    return c.finish(STATUS_NOT_SUPPORTED);
  }
  // A fixed address is one SOCKADDR of the socket's family (datagram_io checks the family and
  // that it is not shorter); an InputSize beyond any SOCKADDR is refused as well.
  if ((rule->op == control_op::set_remote_address || rule->op == control_op::set_sendto_address) &&
      input_size > sizeof(SOCKADDR_STORAGE)) {
    return c.finish(STATUS_INVALID_PARAMETER);
  }
  if (rule->output_min != 0 && (output == nullptr || output_size < rule->output_min)) {
    return c.finish(output == nullptr ? STATUS_INVALID_PARAMETER : STATUS_BUFFER_TOO_SMALL);
  }
  control_request request;
  request.op = rule->op;
  request.input = input;
  request.input_size = input_size;
  request.output = output;
  request.output_size = output_size;
  if (rule->op == control_op::keepalive_values) {
    if (input == nullptr || input_size < sizeof(tcp_keepalive)) {
      return c.finish(STATUS_INVALID_PARAMETER);
    }
    tcp_keepalive values;
    std::memcpy(&values, input, sizeof(values));
    request.values[0] = values.onoff;
    request.values[1] = values.keepalivetime;
    request.values[2] = values.keepaliveinterval;
  } else if (rule->op == control_op::loopback_fast_path) {
    // The documented input is a Boolean; a BOOLEAN (1 byte) and a BOOL (4 bytes) are accepted.
    if (input == nullptr || (input_size != sizeof(BOOLEAN) && input_size != sizeof(ULONG))) {
      return c.finish(STATUS_INVALID_BUFFER_SIZE);
    }
    std::memcpy(&request.values[0], input, input_size); // little-endian: either size reads alike
  }
  SIZE_T written = 0;
  const NTSTATUS status = socket_control(s, request, c.irp(), &written);
  if (status == STATUS_PENDING) {
    return status; // parked: socket_control owns the IRP now
  }
  return c.finish(status, written);
}

} // namespace

// WskControlSocket: sets or reads a socket option, or performs a socket IOCTL.
NTSTATUS WSKAPI control_socket(PWSK_SOCKET Socket, WSK_CONTROL_SOCKET_TYPE RequestType,
                               ULONG ControlCode, ULONG Level, SIZE_T InputSize, PVOID InputBuffer,
                               SIZE_T OutputSize, PVOID OutputBuffer, SIZE_T *OutputSizeReturned,
                               PIRP Irp) {
  socket_object *s = socket_of(Socket);
  control_call c(Irp, OutputSizeReturned, s);
  switch (RequestType) {
  case WskSetOption:
  case WskGetOption:
    return option(s, RequestType, ControlCode, Level, InputSize, InputBuffer, OutputSize,
                  OutputBuffer, c);
  case WskIoctl:
    return ioctl(s, ControlCode, InputSize, InputBuffer, OutputSize, OutputBuffer, c);
  default:
    return c.finish(STATUS_INVALID_PARAMETER);
  }
}

} // namespace uwsk::wsk
