// Client registration and attachment: WskRegister, WskCaptureProviderNPI,
// WskReleaseProviderNPI, WskQueryProviderCharacteristics, WskDeregister (docs/wsk-behaviour.md,
// "Registration").
//
// The registration state lives in a heap object whose address is kept in
// WSK_REGISTRATION.ReservedRegistrationContext and handed to the client as its PWSK_CLIENT. The
// lifetime rules (what waits for what) are docs/design.md's, "Registrations", cited here as
// "registration rule N".
#include <wsk.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "nt/bugcheck.hpp"
#include "nt/dbg/activity.hpp"
#include "nt/dbg/verifier.hpp"
#include "nt/fault/plan.hpp"
#include "nt/io/io_objects.hpp"
#include "nt/ke/irql.hpp"
#include "wsk/registration.hpp"
#include "wsk/control.hpp"
#include "wsk/provider.hpp"
#include "wsk/provider_new.hpp"
#include "wsk/trace.hpp"
#include "wsk/quarantine.hpp"
#include "wsk/violations.hpp"

namespace uwsk::wsk {

namespace {

// ReservedRegistrationState while a block is registered, and after WskDeregister returned.
constexpr ULONGLONG state_registered = 0x5753'4b52'4547'0001ULL;
constexpr ULONGLONG state_deregistered = 0x5753'4b52'4547'deadULL;
constexpr USHORT provider_version = MAKE_WSK_VERSION(1, 0);

// Deregistered registrations are not freed at once (registration rule 6, quarantine.hpp): the
// newest 64 stay readable, marked dead, so that a WskSocket through the NPI of a deregistered
// client is reported (rule V3) rather than reading freed memory. About 200 bytes each.
quarantine_ring<registration, 64> dead_registrations;

// Rule V1: the client dispatch table must stay as it was registered.
void check_dispatch_unchanged(const registration *reg, const char *function) {
  if (reg->client_dispatch != nullptr &&
      std::memcmp(reg->client_dispatch, reg->dispatch_copy, sizeof(WSK_CLIENT_DISPATCH)) != 0) {
    uwsk::nt::verifier::error(
        1,
        "the WSK_CLIENT_DISPATCH table given to WskRegister was changed while registered: it "
        "must stay valid and unchanged until WskDeregister returns",
        uwsk::nt::verifier::objects_text("%s, client dispatch %p, registration %p", function,
                                         reg->client_dispatch, static_cast<const void *>(reg)),
        reinterpret_cast<ULONG_PTR>(reg->client_dispatch));
  }
}

std::mutex registrations_lock;
LIST_ENTRY registrations = {&registrations, &registrations}; // guarded by registrations_lock
std::size_t registration_count = 0;                          // guarded by registrations_lock

// The WSK subsystem is ready when the process starts, unless UWSK_PROVIDER_READY_DELAY_MS asks
// it to come up later, or the fault plan's provider-not-ready does (then N ms after the plan was
// installed): either exercises the waits of WskCaptureProviderNPI.
const std::chrono::steady_clock::time_point environment_ready_at = [] {
  const char *delay = std::getenv("UWSK_PROVIDER_READY_DELAY_MS");
  const long ms = delay != nullptr ? std::strtol(delay, nullptr, 10) : 0;
  return std::chrono::steady_clock::now() + std::chrono::milliseconds(ms > 0 ? ms : 0);
}();
std::chrono::steady_clock::time_point provider_ready_time() {
  const std::int64_t fault_ready_ms = fault::provider_not_ready_ms();
  if (fault_ready_ms < 0) {
    return environment_ready_at;
  }
  return std::max(environment_ready_at,
                  std::chrono::steady_clock::time_point{std::chrono::milliseconds(fault_ready_ms)});
}

registration *registration_of(PWSK_REGISTRATION block, const char *function) {
  if (block == nullptr || block->ReservedRegistrationState != state_registered ||
      block->ReservedRegistrationContext == nullptr) {
    uwsk_log_message("wsk", "%s: %p is not a registered WSK_REGISTRATION block", function,
                     static_cast<void *>(block));
    KeBugCheckEx(DRIVER_VERIFIER_DETECTED_VIOLATION, violation::registration_not_registered,
                 reinterpret_cast<ULONG_PTR>(block), 0, 0);
  }
  auto *reg = static_cast<registration *>(block->ReservedRegistrationContext);
  check_dispatch_unchanged(reg, function);
  return reg;
}

// How long WskDeregister waits before it reports what keeps it waiting (rule V6): 10 s, or
// UWSK_VERIFY_DEREGISTER_MS milliseconds (read at each WskDeregister).
std::chrono::milliseconds deregister_report_after() {
  const char *value = std::getenv("UWSK_VERIFY_DEREGISTER_MS");
  const long ms = value != nullptr ? std::strtol(value, nullptr, 10) : 0;
  return std::chrono::milliseconds(ms > 0 ? ms : 10000);
}

// Rule V6 (a warning): what WskDeregister is still waiting for. The objects line has the counts
// and the registration's open sockets with their endpoints; the IRPs the provider holds follow,
// one line each, with where IoAllocateIrp was called.
void report_deregister_wait(registration *reg, unsigned captures, unsigned sockets,
                            unsigned pending) {
  std::string objects;
  char head[200];
  std::snprintf(head, sizeof head,
                "WSK registration %p: %u capture(s) not released, %u socket(s) not closed, %u "
                "client-level IRP(s) pending",
                static_cast<void *>(reg), captures, sockets, pending);
  objects = head;
  for (const std::string &line : describe_live_sockets(reg)) {
    objects += "; " + line;
  }
  char sentence[160];
  std::snprintf(sentence, sizeof sentence,
                "WskDeregister has waited %lld ms: it returns only once every capture is "
                "released, every socket closed and every IRP completed",
                static_cast<long long>(deregister_report_after().count()));
  uwsk::nt::verifier::warning(6, sentence, objects.c_str(), reinterpret_cast<ULONG_PTR>(reg));
  for (const std::string &line : uwsk::nt::describe_pending_irps(16)) {
    uwsk_log_message("verifier", "  pending: %s", line.c_str());
  }
}

} // namespace

// Registration rule 3: a client-level call needs a live registration and a capture held.
void registration_check_call(void *client, const char *function) {
  auto *reg = static_cast<registration *>(client);
  uwsk::nt::activity::note_call(function);
  const ULONG magic = __atomic_load_n(&reg->magic, __ATOMIC_RELAXED);
  if (magic != registration_live) {
    uwsk::nt::verifier::error(
        3,
        magic == registration_dead
            ? "a client-level WSK function was called through the NPI of a client that has "
              "released it and deregistered"
            : "a client-level WSK function was called with a Client that is not a WSK client",
        uwsk::nt::verifier::objects_text("%s, Client %p", function, client),
        reinterpret_cast<ULONG_PTR>(client));
  }
  unsigned captures;
  {
    std::lock_guard guard(reg->lock);
    captures = reg->captures;
  }
  if (captures == 0) {
    uwsk::nt::verifier::error(
        3,
        "a client-level WSK function was called after WskReleaseProviderNPI released the "
        "last capture of the provider NPI",
        uwsk::nt::verifier::objects_text("%s, Client %p", function, client),
        reinterpret_cast<ULONG_PTR>(client));
  }
  check_dispatch_unchanged(reg, function);
}

void registration_add_socket(registration *reg) {
  std::lock_guard guard(reg->lock);
  ++reg->sockets;
  reg->created_a_socket = true;
}

void registration_remove_socket(registration *reg) {
  std::lock_guard guard(reg->lock);
  --reg->sockets;
  reg->changed.notify_all();
}

namespace {

// Rule V42: WskDeregister called while the client's sockets are open. It waits until each is
// closed (as on Windows), so the client must close them first, or from another thread.
void report_open_sockets(registration *reg) {
  const std::vector<std::string> lines = describe_live_sockets(reg);
  const std::size_t open = lines.size();
  if (open == 0) {
    return;
  }
  std::string objects;
  for (const std::string &line : lines) {
    if (objects.size() > 400) {
      objects += "; ...";
      break;
    }
    objects += objects.empty() ? "" : "; ";
    objects += line;
  }
  char sentence[320];
  std::snprintf(sentence, sizeof sentence,
                "WskDeregister with %zu socket%s not closed: it waits until each is closed with "
                "WskCloseSocket; close every socket before deregistering",
                open, open == 1 ? "" : "s");
  nt::verifier::warning(42, sentence, objects.c_str(), open);
}

} // namespace

bool registration_add_pending(registration *reg, bool unless_deregistering) {
  std::lock_guard guard(reg->lock);
  if (unless_deregistering && reg->deregistering) {
    return false;
  }
  ++reg->pending;
  return true;
}

void registration_drop_pending(registration *reg) {
  std::lock_guard guard(reg->lock);
  --reg->pending;
  reg->changed.notify_all(); // under the lock: the registration may go once it is released
}

std::vector<live_registration> live_registrations() {
  std::vector<live_registration> live;
  std::lock_guard guard(registrations_lock);
  for (PLIST_ENTRY e = registrations.Flink; e != &registrations; e = e->Flink) {
    registration *reg = CONTAINING_RECORD(e, registration, links);
    std::lock_guard reg_guard(reg->lock);
    live.push_back({reg, reg->client_dispatch, reg->captures, reg->sockets});
  }
  return live;
}

// Deliberate family (duplicates): the live-object counts (this one, nt/ex/lookaside.cpp's), each a
// count read under its own lock before the exports.
std::size_t live_registration_count() {
  std::lock_guard guard(registrations_lock);
  return registration_count;
}

} // namespace uwsk::wsk

using namespace uwsk::wsk;

// WskRegister: registers a WSK client; the block and the client dispatch stay the client's
// (registration rule 1).
extern "C" NTSTATUS WSKAPI WskRegister(PWSK_CLIENT_NPI WskClientNpi,
                                       PWSK_REGISTRATION WskRegistration) {
  uwsk::nt::require_irql_at_most(PASSIVE_LEVEL, "WskRegister", WskRegistration,
                                 __builtin_return_address(0), 70);
  if (WskClientNpi == nullptr || WskClientNpi->Dispatch == nullptr || WskRegistration == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  uwsk::nt::trace::start_from_environment(); // UWSK_TRACE, for programs other than uwsk-run
  if (WskClientNpi->Dispatch->Reserved != 0) {
    uwsk::nt::verifier::error(
        7, "WskRegister: WSK_CLIENT_DISPATCH.Reserved must be 0",
        uwsk::nt::verifier::objects_text("client dispatch %p, Reserved %u",
                                         static_cast<const void *>(WskClientNpi->Dispatch),
                                         static_cast<unsigned>(WskClientNpi->Dispatch->Reserved)),
        reinterpret_cast<ULONG_PTR>(WskClientNpi->Dispatch));
  }
  auto *reg = provider_new<registration>();
  if (reg == nullptr) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  static_assert(sizeof(reg->dispatch_copy) == sizeof(WSK_CLIENT_DISPATCH));
  std::memcpy(reg->dispatch_copy, WskClientNpi->Dispatch, sizeof(WSK_CLIENT_DISPATCH));
  reg->client_dispatch = WskClientNpi->Dispatch;
  reg->client_context = WskClientNpi->ClientContext;
  {
    std::lock_guard guard(registrations_lock);
    InsertTailList(&registrations, &reg->links);
    ++registration_count;
  }
  WskRegistration->ReservedRegistrationContext = reg;
  WskRegistration->ReservedRegistrationLock = 0;
  WskRegistration->ReservedRegistrationState = state_registered;
  return STATUS_SUCCESS;
}

// WskCaptureProviderNPI: the provider NPI, once the subsystem is ready and the client's version
// is supported (registration rule 2).
extern "C" NTSTATUS WSKAPI WskCaptureProviderNPI(PWSK_REGISTRATION WskRegistration,
                                                 ULONG WaitTimeout,
                                                 PWSK_PROVIDER_NPI WskProviderNpi) {
  // Rule V4: a capture that may wait only at PASSIVE_LEVEL, one with WSK_NO_WAIT up to
  // DISPATCH_LEVEL.
  uwsk::nt::require_irql_at_most(DISPATCH_LEVEL, "WskCaptureProviderNPI", WskRegistration,
                                 __builtin_return_address(0), 4);
  if (WaitTimeout != WSK_NO_WAIT) {
    uwsk::nt::require_irql_at_most(PASSIVE_LEVEL, "WskCaptureProviderNPI with a wait",
                                   WskRegistration, __builtin_return_address(0), 4);
    if (uwsk::nt::activity::in_driver_entry()) {
      uwsk::nt::verifier::warning(
          5,
          WaitTimeout == WSK_INFINITE_WAIT
              ? "WskCaptureProviderNPI with WSK_INFINITE_WAIT in DriverEntry: the WSK subsystem "
                "may not be ready while drivers load, and the wait can block the boot; capture "
                "from a worker thread or with WSK_NO_WAIT"
              : "WskCaptureProviderNPI with a wait in DriverEntry: the WSK subsystem may not be "
                "ready while drivers load; capture from a worker thread or with WSK_NO_WAIT",
          uwsk::nt::verifier::objects_text("WSK_REGISTRATION %p, WaitTimeout %lu",
                                           static_cast<void *>(WskRegistration),
                                           static_cast<unsigned long>(WaitTimeout)));
    }
  }
  if (WskRegistration != nullptr &&
      WskRegistration->ReservedRegistrationState == state_deregistered) {
    return STATUS_DEVICE_NOT_READY; // legal after WskDeregister while the block is intact
  }
  registration *reg = registration_of(WskRegistration, "WskCaptureProviderNPI");
  if (WskProviderNpi == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  std::unique_lock guard(reg->lock);
  const auto provider_ready_at = provider_ready_time();
  const auto ready = [reg, provider_ready_at] {
    return reg->deregistering || std::chrono::steady_clock::now() >= provider_ready_at;
  };
  if (!ready()) {
    if (WaitTimeout == WSK_NO_WAIT) {
      return STATUS_DEVICE_NOT_READY;
    }
    // Wake at the readiness time or on WskDeregister, whichever comes first.
    const auto deadline =
        WaitTimeout == WSK_INFINITE_WAIT
            ? provider_ready_at
            : std::min(provider_ready_at,
                       std::chrono::steady_clock::now() + std::chrono::milliseconds(WaitTimeout));
    reg->changed.wait_until(guard, deadline, ready);
    if (!ready()) {
      // A finite wait that ran out: Windows does not document the status for it.
      return STATUS_DEVICE_NOT_READY;
    }
  }
  if (reg->deregistering) {
    return STATUS_DEVICE_NOT_READY;
  }
  const auto *client = static_cast<const WSK_CLIENT_DISPATCH *>(reg->client_dispatch);
  if (WSK_MAJOR_VERSION(client->Version) != WSK_MAJOR_VERSION(provider_version)) {
    return STATUS_NOINTERFACE;
  }
  ++reg->captures;
  WskProviderNpi->Client = reg;
  WskProviderNpi->Dispatch = static_cast<const WSK_PROVIDER_DISPATCH *>(client_dispatch_table());
  return STATUS_SUCCESS;
}

// WskReleaseProviderNPI: ends one capture; sockets created meanwhile stay valid (registration
// rule 4).
extern "C" VOID WSKAPI WskReleaseProviderNPI(PWSK_REGISTRATION WskRegistration) {
  registration *reg = registration_of(WskRegistration, "WskReleaseProviderNPI");
  std::lock_guard guard(reg->lock);
  if (reg->captures == 0) {
    uwsk::nt::bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION,
                       "WskReleaseProviderNPI without a matching successful WskCaptureProviderNPI "
                       "(rule V3)",
                       violation::release_without_capture,
                       reinterpret_cast<ULONG_PTR>(WskRegistration));
  }
  --reg->captures;
  reg->changed.notify_all();
}

// WskQueryProviderCharacteristics: the range of WSK versions the provider supports.
extern "C" NTSTATUS WSKAPI WskQueryProviderCharacteristics(
    PWSK_REGISTRATION WskRegistration, PWSK_PROVIDER_CHARACTERISTICS WskProviderCharacteristics) {
  if (WskRegistration != nullptr &&
      WskRegistration->ReservedRegistrationState == state_deregistered) {
    return STATUS_DEVICE_NOT_READY;
  }
  registration *reg = registration_of(WskRegistration, "WskQueryProviderCharacteristics");
  if (WskProviderCharacteristics == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  {
    std::lock_guard guard(reg->lock);
    if (reg->deregistering || std::chrono::steady_clock::now() < provider_ready_time()) {
      return STATUS_DEVICE_NOT_READY;
    }
  }
  WskProviderCharacteristics->HighestVersion = provider_version;
  WskProviderCharacteristics->LowestVersion = provider_version;
  return STATUS_SUCCESS;
}

// WskDeregister: waits until every capture is released, every socket closed and every
// client-level IRP completed (registration rule 5), then forgets the registration (rule 6).
extern "C" VOID WSKAPI WskDeregister(PWSK_REGISTRATION WskRegistration) {
  uwsk::nt::require_irql_at_most(PASSIVE_LEVEL, "WskDeregister", WskRegistration,
                                 __builtin_return_address(0), 70);
  registration *reg = registration_of(WskRegistration, "WskDeregister");
  report_open_sockets(reg);
  {
    std::unique_lock guard(reg->lock);
    reg->deregistering = true;
    reg->changed.notify_all(); // releases callers waiting in WskCaptureProviderNPI
    // Pending WSK_TRANSPORT_LIST_CHANGE IRPs count as pending; they end with the registration.
    guard.unlock();
    cancel_transport_list_changes(reg);
    guard.lock();
    const auto idle = [reg] {
      return reg->captures == 0 && reg->sockets == 0 && reg->pending == 0;
    };
    // Rule V6: report once if the client keeps WskDeregister waiting, instead of hanging
    // silently.
    if (!reg->changed.wait_for(guard, deregister_report_after(), idle)) {
      const unsigned captures = reg->captures;
      const unsigned sockets = reg->sockets;
      const unsigned pending = reg->pending;
      guard.unlock();
      report_deregister_wait(reg, captures, sockets, pending);
      guard.lock();
      reg->changed.wait(guard, idle);
    }
  }
  {
    std::lock_guard guard(registrations_lock);
    RemoveEntryList(&reg->links);
    --registration_count;
  }
  WskRegistration->ReservedRegistrationState = state_deregistered;
  WskRegistration->ReservedRegistrationContext = nullptr;
  __atomic_store_n(&reg->magic, registration_dead, __ATOMIC_RELAXED);
  dead_registrations.hold(reg);
}
