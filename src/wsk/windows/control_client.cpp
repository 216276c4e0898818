// WskControlClient (docs/wsk-behaviour.md, "WskControlClient") and what it manages: the transport
// list, the cached security descriptors, the static event callbacks and the TDI settings (Windows
// half).
//
// Every code but WSK_TRANSPORT_LIST_CHANGE must be called without an IRP, and that one with an
// IRP (rule V65); a call that breaks the rule gets STATUS_INVALID_PARAMETER. The completion
// policy is control_call's (windows/control_call.hpp).
#include <wsk.h>

#include <cstring>
#include <mutex>
#include <unordered_map>
#include <unordered_set>

#include <uwsk/log.h>

#include "nt/bugcheck.hpp"
#include "wsk/windows/client_level.hpp"
#include "wsk/windows/control_call.hpp"
#include "wsk/views.hpp"
#include "wsk/registration.hpp"
#include "wsk/violations.hpp"
#include "wsk/control.hpp"

namespace uwsk::wsk {
namespace {

// ---- Transports ---------------------------------------------------------------------------------

// What WSK_TRANSPORT_LIST_QUERY reports: the (family, type, protocol) triples WskSocket accepts.
// Raw sockets need CAP_NET_RAW on Linux, so their triples are listed only when the process may
// open one; their protocol is IPPROTO_RAW, which Linux accepts for a raw socket of either
// family. Windows' Version and ProviderId values are not documented: every transport reports
// Version 2, as Winsock 2 transports do, and one uwsk provider GUID,
// {7577736B-0001-4000-8000-4C696E757800}.
struct transport_row {
  ADDRESS_FAMILY family;
  USHORT type;
  ULONG protocol;
  bool raw;
};
constexpr transport_row transports[] = {
    {AF_INET, SOCK_STREAM, IPPROTO_TCP, false},  {AF_INET, SOCK_DGRAM, IPPROTO_UDP, false},
    {AF_INET6, SOCK_STREAM, IPPROTO_TCP, false}, {AF_INET6, SOCK_DGRAM, IPPROTO_UDP, false},
    {AF_INET, SOCK_RAW, IPPROTO_RAW, true},      {AF_INET6, SOCK_RAW, IPPROTO_RAW, true},
};
constexpr USHORT transport_version = 2;
constexpr GUID provider_id = {
    0x7577736B, 0x0001, 0x4000, {0x80, 0x00, 0x4C, 0x69, 0x6E, 0x75, 0x78, 0x00}};

NTSTATUS query_transports(SIZE_T output_size, PVOID output, SIZE_T *written) {
  WSK_TRANSPORT list[sizeof(transports) / sizeof(transports[0])];
  std::memset(list, 0, sizeof(list)); // no stack bytes in the padding handed to the client
  std::size_t count = 0;
  const bool raw = raw_sockets_permitted();
  for (const auto &row : transports) {
    if (!row.raw || raw) {
      WSK_TRANSPORT &entry = list[count++];
      entry.Version = transport_version;
      entry.SocketType = row.type;
      entry.Protocol = row.protocol;
      entry.AddressFamily = row.family;
      entry.ProviderId = provider_id;
    }
  }
  *written = count * sizeof(WSK_TRANSPORT);
  if (output == nullptr || output_size < *written) {
    return STATUS_BUFFER_OVERFLOW; // *written is the size needed
  }
  std::memcpy(output, list, *written);
  return STATUS_SUCCESS;
}

// WSK_TRANSPORT_LIST_CHANGE IRPs wait here until WskDeregister or a cancel: the transports of
// Linux's stack do not come and go. Each counts as a pending client-level IRP of its
// registration. DriverContext[0]: the registration.
struct change_waiters {
  std::mutex lock;
  parked_list irps; // guarded by lock
};

change_waiters &waiters() {
  static auto *instance = new change_waiters; // never destroyed
  return *instance;
}

VOID NTAPI cancel_transport_change(PDEVICE_OBJECT, PIRP irp) {
  IoReleaseCancelSpinLock(irp->CancelIrql);
  auto *reg = irp_owner<registration>(irp);
  {
    std::lock_guard guard(waiters().lock);
    parked_list::unlink(irp);
  }
  irp_complete(irp, STATUS_CANCELLED, 0);
  registration_drop_pending(
      reg); // after the completion: WskDeregister may free the registration then
}

// Returns STATUS_PENDING, or a failure the caller completes the IRP with.
NTSTATUS wait_for_transport_change(registration *reg, PIRP irp) {
  change_waiters &w = waiters();
  // Lock order: the waiter list, then the registration. WskDeregister marks the registration
  // before it cancels the waiters, so an IRP is either parked before that sweep or refused here.
  std::lock_guard guard(w.lock);
  if (!registration_add_pending(reg, true)) {
    return STATUS_DEVICE_NOT_READY;
  }
  irp_set_owner(irp, reg);
  if (!w.irps.park(irp, cancel_transport_change)) {
    registration_drop_pending(reg); // the caller completes it; the client's capture keeps reg alive
    return STATUS_CANCELLED;
  }
  return STATUS_PENDING;
}

// ---- Cached security descriptors ----------------------------------------------------------------
//
// uwsk evaluates no security descriptor (there are no access checks to make on Linux), so a
// cached descriptor is a provider object that stands for the client's descriptor: the handle
// WSK_CACHE_SD returns, WskSocket and SO_WSK_SECURITY accept, and WSK_RELEASE_SD releases.
// Caching the same descriptor again (or a cached one) returns the same handle with one more
// reference; the handle is freed when the last reference is released.

struct cached_descriptor {
  PSECURITY_DESCRIPTOR original; // the client's descriptor; identity only, never read
  ULONG references;
};

struct descriptor_cache {
  std::mutex lock;
  std::unordered_set<cached_descriptor *> live;                              // guarded by lock
  std::unordered_map<PSECURITY_DESCRIPTOR, cached_descriptor *> by_original; // guarded by lock
};

descriptor_cache &cache() {
  static auto *instance = new descriptor_cache; // never destroyed
  return *instance;
}

PVOID cache_descriptor(PSECURITY_DESCRIPTOR descriptor) {
  descriptor_cache &c = cache();
  std::lock_guard guard(c.lock);
  auto *known = static_cast<cached_descriptor *>(descriptor);
  if (c.live.count(known) == 0) {
    const auto found = c.by_original.find(descriptor);
    known = found != c.by_original.end() ? found->second : nullptr;
  }
  if (known == nullptr) {
    known = new cached_descriptor{descriptor, 0};
    c.live.insert(known);
    c.by_original.emplace(descriptor, known);
  }
  ++known->references;
  return known;
}

// ---- Client-level settings ----------------------------------------------------------------------

// WSK_SET_STATIC_EVENT_CALLBACKS, WSK_TDI_DEVICENAME_MAPPING and WSK_TDI_BEHAVIOR are accepted
// only before the registration has a socket (rule V63). Windows' status for a late call is not
// documented; uwsk returns STATUS_INVALID_DEVICE_STATE and logs why.
NTSTATUS before_sockets(registration *reg, const char *code, ULONG static_events = 0) {
  std::lock_guard guard(reg->lock);
  if (reg->created_a_socket) {
    nt::verifier::warning(63,
                          "a client-level setting after the client created a socket; the call "
                          "fails with STATUS_INVALID_DEVICE_STATE",
                          nt::verifier::objects_text("WskControlClient(%s), client %p", code,
                                                     static_cast<void *>(reg)));
    return STATUS_INVALID_DEVICE_STATE;
  }
  reg->static_events |= static_events;
  return STATUS_SUCCESS;
}

// The union of the events of every category: what a static mask may hold.
ULONG all_events() {
  return events_valid_for(category::listen) | events_valid_for(category::datagram) |
         events_valid_for(category::connection) | events_valid_for(category::stream);
}

NTSTATUS set_static_events(registration *reg, SIZE_T input_size, PVOID input) {
  if (input == nullptr || input_size < sizeof(WSK_EVENT_CALLBACK_CONTROL)) {
    return STATUS_INVALID_PARAMETER;
  }
  WSK_EVENT_CALLBACK_CONTROL control;
  std::memcpy(&control, input, sizeof(control));
  if (control.NpiId == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  if (std::memcmp(control.NpiId, &NPI_WSK_INTERFACE_ID, sizeof(NPIID)) != 0) {
    return STATUS_NOT_SUPPORTED; // no extension interfaces (Windows names no status)
  }
  // Static events can only be enabled, never disabled.
  if (control.EventMask == 0 || (control.EventMask & ~all_events()) != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  return before_sockets(reg, "WSK_SET_STATIC_EVENT_CALLBACKS", control.EventMask);
}

// uwsk has no TDI: the mapping is checked and accepted, and nothing is ever routed by it.
NTSTATUS set_tdi_mapping(registration *reg, SIZE_T input_size, PVOID input) {
  if (input == nullptr || input_size < sizeof(WSK_TDI_MAP_INFO)) {
    return STATUS_INVALID_PARAMETER;
  }
  const auto *info = static_cast<const WSK_TDI_MAP_INFO *>(input);
  if (info->ElementCount != 0 && info->Map == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  for (ULONG i = 0; i < info->ElementCount; ++i) {
    if (info->Map[i].TdiDeviceName == nullptr) {
      return STATUS_INVALID_PARAMETER;
    }
  }
  return before_sockets(reg, "WSK_TDI_DEVICENAME_MAPPING");
}

// WSK_TDI_BEHAVIOR_BYPASS_TDI asks for the native transport, which is all uwsk has.
NTSTATUS set_tdi_behavior(registration *reg, SIZE_T input_size, PVOID input) {
  if (input == nullptr || input_size < sizeof(ULONG)) {
    return STATUS_INVALID_PARAMETER;
  }
  ULONG flags;
  std::memcpy(&flags, input, sizeof(flags));
  if ((flags & ~static_cast<ULONG>(WSK_TDI_BEHAVIOR_BYPASS_TDI)) != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  return before_sockets(reg, "WSK_TDI_BEHAVIOR");
}

// WSK_CACHE_SD and WSK_RELEASE_SD pass descriptors through a PSECURITY_DESCRIPTOR variable.
bool read_descriptor(SIZE_T size, PVOID buffer, PSECURITY_DESCRIPTOR &descriptor) {
  if (buffer == nullptr || size < sizeof(PSECURITY_DESCRIPTOR)) {
    return false;
  }
  std::memcpy(&descriptor, buffer, sizeof(descriptor));
  return descriptor != nullptr;
}

} // namespace

ULONG events_valid_for(category cat) {
  constexpr ULONG connection_events =
      WSK_EVENT_RECEIVE | WSK_EVENT_DISCONNECT | WSK_EVENT_SEND_BACKLOG;
  switch (cat) {
  case category::basic:
    return 0; // only an extension interface could add events, and none exists
  case category::listen:
  case category::stream:
    // Connection events enabled on a listener apply to the sockets it accepts.
    return WSK_EVENT_ACCEPT | connection_events;
  case category::connection:
    return connection_events;
  case category::datagram:
    return WSK_EVENT_RECEIVE_FROM;
  }
  return 0;
}

ULONG static_event_mask(registration *reg, category cat) {
  std::lock_guard guard(reg->lock);
  return reg->static_events & events_valid_for(cat);
}

bool security_descriptor_add_reference(PVOID cached) {
  descriptor_cache &c = cache();
  std::lock_guard guard(c.lock);
  auto *entry = static_cast<cached_descriptor *>(cached);
  if (c.live.count(entry) == 0) {
    return false;
  }
  ++entry->references;
  return true;
}

void security_descriptor_release(PVOID cached) {
  descriptor_cache &c = cache();
  std::unique_lock guard(c.lock);
  auto *entry = static_cast<cached_descriptor *>(cached);
  if (c.live.count(entry) == 0) {
    guard.unlock();
    nt::bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
                 "WSK_RELEASE_SD: the descriptor is not a cached security descriptor, or it was "
                 "released more often than WSK_CACHE_SD and SO_WSK_SECURITY returned it "
                 "(rule V66)",
                 violation::security_descriptor_released_twice,
                 reinterpret_cast<ULONG_PTR>(cached));
  }
  if (--entry->references == 0) {
    c.live.erase(entry);
    c.by_original.erase(entry->original);
    delete entry;
  }
}

void cancel_transport_list_changes(registration *reg) {
  change_waiters &w = waiters();
  LIST_ENTRY taken;
  InitializeListHead(&taken);
  {
    std::lock_guard guard(w.lock);
    w.irps.take_if([reg](PIRP irp) { return irp_owner<registration>(irp) == reg; },
                   [&](PIRP irp) { InsertTailList(&taken, irp_link(irp)); });
  }
  while (!IsListEmpty(&taken)) {
    PIRP irp = irp_from_link(RemoveHeadList(&taken));
    InitializeListHead(irp_link(irp));
    irp_complete(irp, STATUS_CANCELLED, 0);
    registration_drop_pending(reg);
  }
}

// WskControlClient: the client-level control codes.
NTSTATUS WSKAPI control_client(PWSK_CLIENT Client, ULONG ControlCode, SIZE_T InputSize,
                               PVOID InputBuffer, SIZE_T OutputSize, PVOID OutputBuffer,
                               SIZE_T *OutputSizeReturned, PIRP Irp) {
  auto *reg = static_cast<registration *>(Client);
  control_call c(Irp, OutputSizeReturned);
  if (reg == nullptr) {
    uwsk_log_message("wsk", "verifier: WskControlClient: the Client is NULL (rule V3): "
                            "STATUS_INVALID_PARAMETER");
    return c.finish(STATUS_INVALID_PARAMETER);
  }
  registration_check_call(reg, "WskControlClient");
  const irp_rule rule =
      ControlCode == WSK_TRANSPORT_LIST_CHANGE ? irp_rule::required : irp_rule::must_be_null;
  if (!irp_fits_reported(rule, Irp, 65, "WskControlClient")) {
    return c.finish(STATUS_INVALID_PARAMETER);
  }
  switch (ControlCode) {
  case WSK_TRANSPORT_LIST_QUERY: {
    SIZE_T written = 0;
    const NTSTATUS status = query_transports(OutputSize, OutputBuffer, &written);
    return c.finish(status, written);
  }
  case WSK_TRANSPORT_LIST_CHANGE: {
    const NTSTATUS status = wait_for_transport_change(reg, Irp);
    return status == STATUS_PENDING ? status : c.finish(status);
  }
  case WSK_CACHE_SD: {
    PSECURITY_DESCRIPTOR descriptor = nullptr;
    if (!read_descriptor(InputSize, InputBuffer, descriptor) || OutputBuffer == nullptr ||
        OutputSize < sizeof(PSECURITY_DESCRIPTOR)) {
      return c.finish(STATUS_INVALID_PARAMETER);
    }
    const PVOID cached = cache_descriptor(descriptor);
    std::memcpy(OutputBuffer, &cached, sizeof(cached));
    return c.finish(STATUS_SUCCESS, sizeof(cached));
  }
  case WSK_RELEASE_SD: {
    PSECURITY_DESCRIPTOR descriptor = nullptr;
    if (!read_descriptor(InputSize, InputBuffer, descriptor)) {
      return c.finish(STATUS_INVALID_PARAMETER);
    }
    security_descriptor_release(descriptor);
    return c.finish(STATUS_SUCCESS);
  }
  case WSK_TDI_DEVICENAME_MAPPING:
    return c.finish(set_tdi_mapping(reg, InputSize, InputBuffer));
  case WSK_SET_STATIC_EVENT_CALLBACKS:
    return c.finish(set_static_events(reg, InputSize, InputBuffer));
  case WSK_TDI_BEHAVIOR:
    return c.finish(set_tdi_behavior(reg, InputSize, InputBuffer));
  default:
    return c.finish(STATUS_INVALID_PARAMETER); // an unknown code
  }
}

} // namespace uwsk::wsk
