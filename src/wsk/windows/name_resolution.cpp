// The Windows half of name resolution: WskGetAddressInfo, WskFreeAddressInfo and WskGetNameInfo
// (docs/wsk-behaviour.md, "Name resolution"). This file validates the call, translates
// UNICODE_STRINGs, ADDRINFOEXW hints and AI_*/NI_* flags, owns the IRP, and builds the Windows
// ADDRINFOEXW list; the lookups themselves run in linux/name_resolution.cpp on an executive worker
// thread, because getaddrinfo and getnameinfo block.
//
// Lifetime of one lookup (one allocation, a `request`):
//  1. The call validates, fills the request, parks the IRP (pending, cancellable), counts it in
//     registration::pending, queues the worker and returns STATUS_PENDING. Bad parameters
//     complete the IRP at once instead, with the status returned.
//  2. The worker skips the lookup if the IRP was cancelled meanwhile, otherwise runs it, then
//     claims the IRP back from the cancel machinery under the request's lock. If it gets it, it
//     delivers the answer, frees the request and completes the IRP; if cancellation won, it frees
//     the answer, which is never delivered.
//  3. The cancel routine completes the IRP with STATUS_CANCELLED. The request is freed by
//     whichever of the worker and the cancel routine finishes with it last.
//  4. Whoever completes the IRP then drops registration::pending, as the last touch of the
//     registration (WskDeregister waits for it to reach zero).
#include <wsk.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <unordered_set>

#include "nt/bugcheck.hpp"
#include "nt/dbg/verifier.hpp"
#include "nt/ex/pool.hpp"
#include "nt/ke/irql.hpp"
#include "nt/rtl/utf.hpp"
#include "wsk/windows/client_level.hpp"
#include "wsk/registration.hpp"
#include "wsk/irp_ops.hpp"
#include "wsk/name_resolution.hpp"
#include "wsk/provider_new.hpp"
#include "wsk/violations.hpp"

namespace uwsk::wsk {
namespace {

// Pool tag of ADDRINFOEXW lists, so that a list the driver never frees shows in the leak report.
constexpr ULONG result_tag = 'WskN';

// Windows AI_*/NI_* flags and the internal flags of name_resolution.hpp they become.
struct flag_map {
  ULONG windows;
  ULONG internal;
};

constexpr flag_map ai_flags[] = {
    {AI_PASSIVE, lookup_flag::passive},
    {AI_CANONNAME, lookup_flag::canonical},
    {AI_FQDN, lookup_flag::canonical}, // the FQDN is the canonical name glibc reports
    {AI_NUMERICHOST, lookup_flag::numeric_host},
    {AI_NUMERICSERV, lookup_flag::numeric_service},
    {AI_ALL, lookup_flag::all},
    {AI_ADDRCONFIG, lookup_flag::address_config},
    {AI_V4MAPPED, lookup_flag::v4_mapped},
    // Flags that change nothing here: NS_EMAIL and PNRP-only flags, a hint about file servers,
    // and IDN encoding, which glibc does not do unless asked anyway.
    {AI_NON_AUTHORITATIVE, 0},
    {AI_RETURN_PREFERRED_NAMES, 0},
    {AI_FILESERVER, 0},
    {AI_DISABLE_IDN_ENCODING, 0},
};

constexpr flag_map ni_flags[] = {
    {NI_NOFQDN, name_flag::no_fqdn},         {NI_NUMERICHOST, name_flag::numeric_host},
    {NI_NAMEREQD, name_flag::name_required}, {NI_NUMERICSERV, name_flag::numeric_service},
    {NI_DGRAM, name_flag::datagram},
};

// Translates Windows flags; false when a flag is not in the table.
template <std::size_t N> bool internal_flags(ULONG flags, const flag_map (&map)[N], ULONG &out) {
  out = 0;
  for (const flag_map &m : map) {
    if ((flags & m.windows) != 0) {
      out |= m.internal;
      flags &= ~m.windows;
    }
  }
  return flags == 0;
}

// ---- Checks --------------------------------------------------------------------------------

// Rule V70: the name-resolution functions run only at PASSIVE_LEVEL.
void require_passive(const char *what, const void *object, const void *caller) {
  nt::require_irql_at_most(PASSIVE_LEVEL, what, object, caller, 70);
}

// Rule V72: an OwningThread needs its OwningProcess. The call fails with the documented
// STATUS_INVALID_PARAMETER, and the log names the rule. Returns whether the pair is valid.
bool owner_pair_ok(const char *what, PEPROCESS process, PETHREAD thread) {
  if (thread == nullptr || process != nullptr) {
    return true;
  }
  nt::verifier::warning(72,
                        "an OwningThread was given without its OwningProcess: a thread may be "
                        "named only with the process it belongs to; STATUS_INVALID_PARAMETER",
                        nt::verifier::objects_text("%s, OwningProcess NULL, OwningThread %p", what,
                                                   static_cast<void *>(thread)),
                        reinterpret_cast<ULONG_PTR>(thread));
  return false;
}

// ---- Live ADDRINFOEXW lists (rule V71) -------------------------------------------------------

struct live_lists {
  std::mutex lock;
  std::unordered_set<const void *> heads;
};

live_lists &lists() {
  static auto *l = new live_lists; // never destroyed: workers may still free lists at exit
  return *l;
}

void destroy_list(PADDRINFOEXW head) {
  {
    live_lists &l = lists();
    std::lock_guard guard(l.lock);
    l.heads.erase(head);
  }
  nt::pool_free_owned(head, result_tag, nt::pool_owner_wsk_address_info);
}

// One pool block: the ADDRINFOEXW array, then the SOCKADDRs (8-aligned), then the canonical
// name. Every entry's pointers point into the block; the head is the block.
NTSTATUS build_list(const address_answer &answer, PADDRINFOEXW &head) {
  std::u16string canonical;
  try {
    if (!answer.canonical_name.empty()) {
      canonical = nt::utf::to_utf16(answer.canonical_name.data(), answer.canonical_name.size());
    }
  } catch (const std::bad_alloc &) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  const std::size_t count = answer.entries.size();
  std::size_t size = count * sizeof(ADDRINFOEXW);
  for (const address_entry &entry : answer.entries) {
    size += (entry.address_length + 7) & ~std::size_t{7};
  }
  const std::size_t canonical_offset = size;
  if (!canonical.empty()) {
    size += (canonical.size() + 1) * sizeof(WCHAR);
  }
  auto *block =
      static_cast<unsigned char *>(ExAllocatePool2(POOL_FLAG_NON_PAGED, size, result_tag));
  if (block == nullptr) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  nt::pool_set_owner(block, nt::pool_owner_wsk_address_info); // freed by WskFreeAddressInfo only
  auto *entries = reinterpret_cast<PADDRINFOEXW>(block);
  std::size_t address_offset = count * sizeof(ADDRINFOEXW);
  for (std::size_t i = 0; i < count; ++i) {
    const address_entry &from = answer.entries[i];
    ADDRINFOEXW &to = entries[i];
    std::memset(&to, 0, sizeof to);
    to.ai_flags = 0;
    to.ai_family = from.windows_family;
    to.ai_socktype = from.socket_type;
    to.ai_protocol = from.protocol;
    to.ai_addrlen = from.address_length;
    to.ai_addr = reinterpret_cast<PSOCKADDR>(block + address_offset);
    std::memcpy(block + address_offset, from.address, from.address_length);
    address_offset += (from.address_length + 7) & ~std::size_t{7};
    to.ai_next = i + 1 < count ? &entries[i + 1] : nullptr;
  }
  if (!canonical.empty()) {
    auto *name = reinterpret_cast<WCHAR *>(block + canonical_offset);
    std::memcpy(name, canonical.data(), canonical.size() * sizeof(WCHAR));
    name[canonical.size()] = 0;
    entries[0].ai_canonname = name;
  }
  try {
    live_lists &l = lists();
    std::lock_guard guard(l.lock);
    l.heads.insert(entries);
  } catch (const std::bad_alloc &) {
    nt::pool_free_owned(block, result_tag, nt::pool_owner_wsk_address_info);
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  head = entries;
  return STATUS_SUCCESS;
}

// ---- Strings ---------------------------------------------------------------------------------

// Reads an input UNICODE_STRING as UTF-8. The name ends at Length or at the first NUL before
// it, whichever comes first; nothing beyond Length is read. An absent or empty string leaves
// `present` false. Returns false for a malformed string (odd or inconsistent lengths, no
// buffer, unpaired surrogates).
bool read_name(const UNICODE_STRING *s, bool &present, std::string &out) {
  present = false;
  if (s == nullptr) {
    return true;
  }
  if (s->Length % sizeof(WCHAR) != 0 || s->Length > s->MaximumLength ||
      (s->Length != 0 && s->Buffer == nullptr)) {
    return false;
  }
  const auto *text = reinterpret_cast<const char16_t *>(s->Buffer);
  std::size_t length = s->Length / sizeof(WCHAR);
  for (std::size_t i = 0; i < length; ++i) {
    if (text[i] == 0) {
      length = i;
      break;
    }
  }
  if (length == 0) {
    return true;
  }
  bool valid = true;
  out = nt::utf::to_utf8(text, length, &valid);
  present = true;
  return valid;
}

// Checks an output UNICODE_STRING of WskGetNameInfo (the caller provides Buffer and
// MaximumLength).
bool output_string_ok(const UNICODE_STRING *s) {
  return s == nullptr || s->Buffer != nullptr;
}

// Whether `text` and its NUL fit in an output UNICODE_STRING.
bool fits(const UNICODE_STRING *s, const std::u16string &text) {
  return s == nullptr || (text.size() + 1) * sizeof(WCHAR) <= s->MaximumLength;
}

void store(UNICODE_STRING *s, const std::u16string &text) {
  if (s == nullptr) {
    return;
  }
  std::memcpy(s->Buffer, text.data(), text.size() * sizeof(WCHAR));
  s->Buffer[text.size()] = 0;
  s->Length = static_cast<USHORT>(text.size() * sizeof(WCHAR));
}

// ---- Queries ---------------------------------------------------------------------------------

// A service is a name (letters first, as in /etc/services) or a decimal port, 0 to 65535. Text
// that starts like a number (a digit, a sign or a space) must be a port: glibc would read
// "99999" as port 34463 (the low 16 bits) and " 80" or "+80" as 80, where Windows refuses a
// service that is neither. Such a service is refused as glibc refuses an unknown service name:
// STATUS_INVALID_PARAMETER.
bool service_valid(const std::string &service) {
  const char first = service.front();
  const bool numeric_start = (first >= '0' && first <= '9') || first == '+' || first == '-' ||
                             first == ' ' || first == '\t';
  if (!numeric_start) {
    return true;
  }
  unsigned long port = 0;
  for (const char c : service) {
    if (c < '0' || c > '9') {
      return false;
    }
    port = port * 10 + static_cast<unsigned long>(c - '0');
    if (port > 65535) {
      return false;
    }
  }
  return true;
}

NTSTATUS build_address_query(const UNICODE_STRING *node, const UNICODE_STRING *service,
                             const ADDRINFOEXW *hints, address_query &query) {
  if (!read_name(node, query.has_node, query.node) ||
      !read_name(service, query.has_service, query.service)) {
    return STATUS_INVALID_PARAMETER;
  }
  if (!query.has_node && !query.has_service) {
    return STATUS_INVALID_PARAMETER; // the WDK asks for at least one non-empty name
  }
  if (query.has_service && !service_valid(query.service)) {
    return STATUS_INVALID_PARAMETER;
  }
  if (hints == nullptr) {
    return STATUS_SUCCESS;
  }
  if (hints->ai_addrlen != 0 || hints->ai_canonname != nullptr || hints->ai_addr != nullptr ||
      hints->ai_blob != nullptr || hints->ai_bloblen != 0 || hints->ai_provider != nullptr ||
      hints->ai_next != nullptr) {
    return STATUS_INVALID_PARAMETER; // only flags, family, type and protocol may be hinted
  }
  const auto flags = static_cast<ULONG>(hints->ai_flags);
  if (!internal_flags(flags, ai_flags, query.flags) ||
      ((flags & AI_FQDN) != 0 && (flags & AI_CANONNAME) != 0)) {
    return STATUS_INVALID_PARAMETER;
  }
  switch (hints->ai_family) {
  case AF_UNSPEC:
    query.any_family = true;
    break;
  case AF_INET:
  case AF_INET6:
    query.any_family = false;
    query.windows_family = static_cast<USHORT>(hints->ai_family);
    break;
  default:
    return STATUS_INVALID_PARAMETER;
  }
  if (hints->ai_socktype < 0 || hints->ai_socktype > SOCK_SEQPACKET || hints->ai_protocol < 0 ||
      hints->ai_protocol > 255) {
    return STATUS_INVALID_PARAMETER;
  }
  query.socket_type = hints->ai_socktype;
  query.protocol = hints->ai_protocol;
  return STATUS_SUCCESS;
}

// ---- Requests --------------------------------------------------------------------------------

// What the worker and the cancel routine share; see the lifetime at the top of this file.
struct request {
  WORK_QUEUE_ITEM work{};
  registration *reg = nullptr;
  PIRP irp = nullptr;
  std::mutex lock;          // orders the worker's claim against the cancel routine
  bool cancelled = false;   // the cancel routine has taken the IRP (guarded by lock)
  bool worker_done = false; // the worker lost the IRP and left the request to the cancel routine

  virtual ~request() = default;
};

struct address_request final : request {
  PADDRINFOEXW *result = nullptr; // the client's, written only on success
  address_query query;
};

struct name_request final : request {
  PUNICODE_STRING node = nullptr; // the client's output strings, valid until completion
  PUNICODE_STRING service = nullptr;
  name_query query;
};

VOID NTAPI cancel_lookup(PDEVICE_OBJECT, PIRP irp) {
  IoReleaseCancelSpinLock(irp->CancelIrql);
  auto *req = irp_owner<request>(irp);
  registration *reg = req->reg;
  bool free_request = false;
  {
    std::lock_guard guard(req->lock);
    req->cancelled = true;
    free_request = req->worker_done;
  }
  if (free_request) {
    delete req;
  }
  irp_complete(irp, STATUS_CANCELLED, 0);
  registration_drop_pending(reg);
}

// True when the IRP was cancelled before the worker started: the request is freed and the
// lookup is not run.
bool cancelled_before_start(request *req) {
  {
    std::lock_guard guard(req->lock);
    if (!req->cancelled) {
      return false;
    }
  }
  delete req;
  return true;
}

// Takes the IRP back from the cancel machinery. False when cancellation won: the request is
// then gone (freed here, or left to the cancel routine) and nothing of it may be touched.
bool claim_irp(request *req) {
  {
    std::lock_guard guard(req->lock);
    if (!req->cancelled) {
      if (irp_unpark(req->irp)) {
        return true;
      }
      req->worker_done = true; // the cancel routine is running and frees the request
      return false;
    }
  }
  delete req;
  return false;
}

// Completes a claimed IRP; runtime state is released before the client's routine runs.
void finish(request *req, NTSTATUS status) {
  registration *reg = req->reg;
  PIRP irp = req->irp;
  delete req;
  irp_complete(irp, status, 0);
  registration_drop_pending(reg);
}

NTSTATUS start_lookup(request *req, registration *reg, PIRP irp, PWORKER_THREAD_ROUTINE worker) {
  req->reg = reg;
  req->irp = irp;
  ExInitializeWorkItem(&req->work, worker, req);
  irp_set_owner(irp, req);
  registration_add_pending(reg, false);
  if (!irp_park(irp, cancel_lookup)) {
    // Cancelled before it could be parked: it completes now (irp_park left it not pending).
    delete req;
    const NTSTATUS status = irp_complete(irp, STATUS_CANCELLED, 0);
    registration_drop_pending(reg);
    return status;
  }
  ExQueueWorkItem(&req->work, DelayedWorkQueue);
  return STATUS_PENDING;
}

VOID NTAPI address_worker(PVOID context) {
  auto *req = static_cast<address_request *>(context);
  if (cancelled_before_start(req)) {
    return;
  }
  const address_answer answer = lookup_addresses(req->query);
  PADDRINFOEXW list = nullptr;
  NTSTATUS status = answer.status;
  if (NT_SUCCESS(status)) {
    status = build_list(answer, list);
  }
  if (!claim_irp(req)) {
    if (list != nullptr) {
      destroy_list(list); // a late answer is never delivered
    }
    return;
  }
  if (NT_SUCCESS(status)) {
    *req->result = list;
  }
  finish(req, status);
}

VOID NTAPI name_worker(PVOID context) {
  auto *req = static_cast<name_request *>(context);
  if (cancelled_before_start(req)) {
    return;
  }
  const name_answer answer = lookup_name(req->query);
  NTSTATUS status = answer.status;
  std::u16string node;
  std::u16string service;
  if (NT_SUCCESS(status)) {
    try {
      node = nt::utf::to_utf16(answer.node.data(), answer.node.size());
      service = nt::utf::to_utf16(answer.service.data(), answer.service.size());
    } catch (const std::bad_alloc &) {
      status = STATUS_INSUFFICIENT_RESOURCES;
    }
  }
  if (!claim_irp(req)) {
    return;
  }
  if (NT_SUCCESS(status)) {
    // Both names or neither: a buffer too small leaves both strings as they were.
    if (fits(req->node, node) && fits(req->service, service)) {
      store(req->node, node);
      store(req->service, service);
    } else {
      status = STATUS_BUFFER_TOO_SMALL;
    }
  }
  finish(req, status);
}

} // namespace

// WskGetAddressInfo: resolves a host and/or service name into a list of Windows-format
// ADDRINFOEXW entries, asynchronously on a worker thread.
NTSTATUS WSKAPI get_address_info(PWSK_CLIENT Client, PUNICODE_STRING NodeName,
                                 PUNICODE_STRING ServiceName, ULONG NameSpace, GUID *Provider,
                                 PADDRINFOEXW Hints, PADDRINFOEXW *Result, PEPROCESS OwningProcess,
                                 PETHREAD OwningThread, PIRP Irp) {
  require_passive("WskGetAddressInfo", Irp, __builtin_return_address(0));
  if (!irp_enter(Irp)) {
    return STATUS_INVALID_PARAMETER; // no IRP to complete
  }
  auto *reg = static_cast<registration *>(Client);
  if (reg != nullptr) {
    registration_check_call(reg, "WskGetAddressInfo");
  }
  if (reg == nullptr || Result == nullptr || Provider != nullptr ||
      (NameSpace != NS_ALL && NameSpace != NS_DNS) ||
      !owner_pair_ok("WskGetAddressInfo", OwningProcess, OwningThread)) {
    return irp_complete(Irp, STATUS_INVALID_PARAMETER, 0);
  }
  auto *req = provider_new<address_request>();
  if (req == nullptr) {
    return irp_complete(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
  }
  NTSTATUS status;
  try {
    status = build_address_query(NodeName, ServiceName, Hints, req->query);
  } catch (const std::bad_alloc &) {
    status = STATUS_INSUFFICIENT_RESOURCES;
  }
  if (!NT_SUCCESS(status)) {
    delete req;
    return irp_complete(Irp, status, 0);
  }
  req->result = Result;
  return start_lookup(req, reg, Irp, address_worker);
}

// WskFreeAddressInfo: frees a list WskGetAddressInfo returned; anything else is a verifier
// violation (rule V71).
VOID WSKAPI free_address_info(PWSK_CLIENT Client, PADDRINFOEXW AddrInfo) {
  require_passive("WskFreeAddressInfo", AddrInfo, __builtin_return_address(0));
  if (AddrInfo == nullptr) {
    return; // nothing to free, as FreeAddrInfoExW(NULL)
  }
  bool known;
  {
    live_lists &l = lists();
    std::lock_guard guard(l.lock);
    known = l.heads.erase(AddrInfo) == 1;
  }
  if (!known) {
    char reason[240];
    std::snprintf(reason, sizeof reason,
                  "verifier rule V71: WskFreeAddressInfo(%p): not the head of a list returned by "
                  "WskGetAddressInfo, or already freed",
                  static_cast<void *>(AddrInfo));
    nt::bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, reason, violation::free_address_info,
                 reinterpret_cast<ULONG_PTR>(AddrInfo), reinterpret_cast<ULONG_PTR>(Client),
                 reinterpret_cast<ULONG_PTR>(__builtin_return_address(0)));
  }
  nt::pool_free_owned(AddrInfo, result_tag, nt::pool_owner_wsk_address_info);
}

// WskGetNameInfo: resolves a Windows SOCKADDR into host and/or service names written into the
// caller's UNICODE_STRING buffers, asynchronously on a worker thread.
NTSTATUS WSKAPI get_name_info(PWSK_CLIENT Client, PSOCKADDR SockAddr, ULONG SockAddrLength,
                              PUNICODE_STRING NodeName, PUNICODE_STRING ServiceName, ULONG Flags,
                              PEPROCESS OwningProcess, PETHREAD OwningThread, PIRP Irp) {
  require_passive("WskGetNameInfo", Irp, __builtin_return_address(0));
  if (!irp_enter(Irp)) {
    return STATUS_INVALID_PARAMETER;
  }
  auto *reg = static_cast<registration *>(Client);
  if (reg != nullptr) {
    registration_check_call(reg, "WskGetNameInfo");
  }
  if ((NodeName == nullptr && ServiceName == nullptr) ||
      SockAddrLength > sizeof(SOCKADDR_STORAGE)) {
    nt::verifier::warning(
        73,
        "WskGetNameInfo needs NodeName or ServiceName (or both), and an address "
        "of at most 128 bytes: STATUS_INVALID_PARAMETER",
        nt::verifier::objects_text("NodeName %p, ServiceName %p, SockAddrLength %lu",
                                   static_cast<void *>(NodeName), static_cast<void *>(ServiceName),
                                   static_cast<unsigned long>(SockAddrLength)));
  }
  if (reg == nullptr || SockAddr == nullptr || SockAddrLength > sizeof(SOCKADDR_STORAGE) ||
      SockAddrLength < sizeof(ADDRESS_FAMILY) ||
      (NodeName == nullptr && ServiceName == nullptr) || // V73
      !output_string_ok(NodeName) || !output_string_ok(ServiceName) ||
      !owner_pair_ok("WskGetNameInfo", OwningProcess, OwningThread)) {
    return irp_complete(Irp, STATUS_INVALID_PARAMETER, 0);
  }
  std::size_t address_size = 0;
  switch (SockAddr->sa_family) {
  case AF_INET:
    address_size = sizeof(SOCKADDR_IN);
    break;
  case AF_INET6:
    address_size = sizeof(SOCKADDR_IN6);
    break;
  default:
    return irp_complete(Irp, STATUS_INVALID_PARAMETER, 0);
  }
  if (SockAddrLength < address_size) {
    return irp_complete(Irp, STATUS_INVALID_PARAMETER, 0);
  }
  ULONG flags = 0;
  if (!internal_flags(Flags, ni_flags, flags)) {
    return irp_complete(Irp, STATUS_INVALID_PARAMETER, 0);
  }
  auto *req = provider_new<name_request>();
  if (req == nullptr) {
    return irp_complete(Irp, STATUS_INSUFFICIENT_RESOURCES, 0);
  }
  std::memcpy(req->query.address, SockAddr, address_size);
  req->query.want_node = NodeName != nullptr;
  req->query.want_service = ServiceName != nullptr;
  req->query.flags = flags;
  req->node = NodeName;
  req->service = ServiceName;
  return start_lookup(req, reg, Irp, name_worker);
}

} // namespace uwsk::wsk
