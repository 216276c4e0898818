// The client's event callbacks, called through its dispatch tables (Windows half). linux/events.cpp
// decides when a callback is due; this file only knows the tables' shapes.
#include <cstddef>
#include <cstdint>

#include <wdm.h>
#include <wsk.h>

#include "nt/fault/plan.hpp"
#include "nt/ke/irql.hpp"
#include "wsk/views.hpp"
#include "wsk/callbacks.hpp"
#include "wsk/trace.hpp"

namespace uwsk::wsk {
namespace {

static_assert(sizeof(data_indication_view) == sizeof(WSK_DATA_INDICATION));
static_assert(offsetof(data_indication_view, buffer) == offsetof(WSK_DATA_INDICATION, Buffer));
static_assert(sizeof(datagram_indication_view) == sizeof(WSK_DATAGRAM_INDICATION));
static_assert(offsetof(datagram_indication_view, buffer) ==
              offsetof(WSK_DATAGRAM_INDICATION, Buffer));
static_assert(offsetof(datagram_indication_view, control) ==
              offsetof(WSK_DATAGRAM_INDICATION, ControlInfo));
static_assert(offsetof(datagram_indication_view, control_length) ==
              offsetof(WSK_DATAGRAM_INDICATION, ControlInfoLength));
static_assert(offsetof(datagram_indication_view, remote) ==
              offsetof(WSK_DATAGRAM_INDICATION, RemoteAddress));
static_assert(static_cast<int>(inspect_action::reject) == WskInspectReject);
static_assert(static_cast<int>(inspect_action::accept) == WskInspectAccept);
static_assert(static_cast<int>(inspect_action::pend) == WskInspectPend);

// Callbacks run on loop threads, at DISPATCH_LEVEL (docs/design.md, "Event callbacks"), unless
// the fault plan's callback-irql says otherwise (docs/faults.md): then each callback runs at the
// IRQL it draws, with WSK_FLAG_AT_DISPATCH_LEVEL telling the truth, and the loop's IRQL comes
// back afterwards.
constexpr ULONG at_dispatch = WSK_FLAG_AT_DISPATCH_LEVEL;
class callback_irql {
public:
  callback_irql() {
    if (!fault::active() || fault::current().callback_irql == fault::irql_mode::normal) {
      return;
    }
    KIRQL irql = DISPATCH_LEVEL;
    switch (fault::current().callback_irql) {
    case fault::irql_mode::passive:
      irql = PASSIVE_LEVEL;
      break;
    case fault::irql_mode::random: {
      static fault::counters draws;
      const std::uint64_t n = draws.next(fault::stream::callback_irql);
      if ((fault::draw(fault::stream::callback_irql, 0, n) & 1) != 0) {
        irql = PASSIVE_LEVEL;
      }
      fault::record(fault::stream::callback_irql, 0, n, "callback at IRQL", irql);
      break;
    }
    default:
      break;
    }
    saved_ = nt::current_irql();
    nt::set_current_irql(irql);
    changed_ = true;
    flags_ = irql >= DISPATCH_LEVEL ? at_dispatch : 0;
  }
  ~callback_irql() {
    if (changed_) {
      nt::set_current_irql(saved_);
    }
  }
  callback_irql(const callback_irql &) = delete;
  callback_irql &operator=(const callback_irql &) = delete;
  // WSK_FLAG_AT_DISPATCH_LEVEL when the callback runs at DISPATCH_LEVEL.
  ULONG flags() const { return flags_; }

private:
  KIRQL saved_ = PASSIVE_LEVEL;
  bool changed_ = false;
  ULONG flags_ = at_dispatch;
};

const WSK_CLIENT_LISTEN_DISPATCH *listen_table(category cat, const void *dispatch) {
  if (dispatch == nullptr) {
    return nullptr;
  }
  if (cat == category::stream) {
    return static_cast<const WSK_CLIENT_STREAM_DISPATCH *>(dispatch)->Listen;
  }
  return cat == category::listen ? static_cast<const WSK_CLIENT_LISTEN_DISPATCH *>(dispatch)
                                 : nullptr;
}

const WSK_CLIENT_CONNECTION_DISPATCH *connection_table(category cat, const void *dispatch) {
  if (dispatch == nullptr) {
    return nullptr;
  }
  if (cat == category::stream) {
    return static_cast<const WSK_CLIENT_STREAM_DISPATCH *>(dispatch)->Connect;
  }
  return cat == category::connection ? static_cast<const WSK_CLIENT_CONNECTION_DISPATCH *>(dispatch)
                                     : nullptr;
}

// The address arguments are PSOCKADDR, not const: the callbacks' prototypes say so.
PSOCKADDR address(const void *a) {
  return static_cast<PSOCKADDR>(const_cast<void *>(a));
}

namespace tr = nt::trace;

// Runs `call`, a callback returning an NTSTATUS, recorded when the trace is on (the socket is
// the one run_callback named). `accepted`: WskReceiveEvent's *BytesAccepted, shown after it.
template <class Call>
NTSTATUS traced(const char *callback, tr::fields args, Call &&call,
                const SIZE_T *accepted = nullptr) {
  if (!tr::on()) {
    return call();
  }
  const void *socket = trace_callback_socket;
  const tr::span span = tr::callback_begin(callback, socket, args);
  const NTSTATUS status = call();
  if (accepted != nullptr) {
    tr::callback_end(span, callback, socket,
                     {tr::status("status", status), tr::number("accepted", *accepted)});
  } else {
    tr::callback_end(span, callback, socket, {tr::status("status", status)});
  }
  return status;
}

const char *inspect_action_name(WSK_INSPECT_ACTION action) {
  switch (action) {
  case WskInspectReject:
    return "WskInspectReject";
  case WskInspectAccept:
    return "WskInspectAccept";
  case WskInspectPend:
    return "WskInspectPend";
  default:
    return "invalid";
  }
}

} // namespace

bool client_has_callback(category cat, const void *client_dispatch, ULONG event) {
  if (event == WSK_EVENT_RECEIVE_FROM) {
    return cat == category::datagram && client_dispatch != nullptr &&
           static_cast<const WSK_CLIENT_DATAGRAM_DISPATCH *>(client_dispatch)
                   ->WskReceiveFromEvent != nullptr;
  }
  if (event == WSK_EVENT_ACCEPT) {
    const WSK_CLIENT_LISTEN_DISPATCH *t = listen_table(cat, client_dispatch);
    return t != nullptr && t->WskAcceptEvent != nullptr;
  }
  const WSK_CLIENT_CONNECTION_DISPATCH *t = connection_table(cat, client_dispatch);
  if (t == nullptr) {
    return false;
  }
  switch (event) {
  case WSK_EVENT_RECEIVE:
    return t->WskReceiveEvent != nullptr;
  case WSK_EVENT_DISCONNECT:
    return t->WskDisconnectEvent != nullptr;
  case WSK_EVENT_SEND_BACKLOG:
    return t->WskSendBacklogEvent != nullptr;
  default:
    return false;
  }
}

NTSTATUS call_accept_event(category cat, const void *client_dispatch, PVOID context,
                           const void *local, const void *remote, socket_object *accepted,
                           PVOID *accepted_context, const void **accepted_dispatch) {
  const WSK_CLIENT_LISTEN_DISPATCH *t = listen_table(cat, client_dispatch);
  PVOID new_context = nullptr;
  const WSK_CLIENT_CONNECTION_DISPATCH *new_dispatch = nullptr;
  const callback_irql irql;
  char local_text[80];
  char remote_text[80];
  const bool tracing = tr::on();
  const NTSTATUS status = traced(
      "WskAcceptEvent",
      {tr::pointer("accepted", accepted),
       tr::text("local", tracing ? trace_address(local, local_text, sizeof(local_text)) : ""),
       tr::text("remote", tracing ? trace_address(remote, remote_text, sizeof(remote_text)) : "")},
      [&] {
        return t->WskAcceptEvent(context, irql.flags(), address(local), address(remote),
                                 reinterpret_cast<PWSK_SOCKET>(accepted), &new_context,
                                 &new_dispatch);
      });
  *accepted_context = new_context;
  *accepted_dispatch = new_dispatch;
  return status;
}

inspect_action call_inspect_event(category cat, const void *client_dispatch, PVOID context,
                                  const void *local, const void *remote, void *id_copy,
                                  ULONG_PTR key, ULONG serial, bool dead) {
  const WSK_CLIENT_LISTEN_DISPATCH *t = listen_table(cat, client_dispatch);
  if (t == nullptr || t->WskInspectEvent == nullptr) {
    return inspect_action::accept; // no inspection callback: every request goes on
  }
  // The ID is valid during the call only: a client must copy it to keep it (rule V57).
  static_assert(sizeof(WSK_INSPECT_ID) <= 2 * sizeof(ULONG_PTR));
  WSK_INSPECT_ID &id = *static_cast<PWSK_INSPECT_ID>(id_copy);
  id = WSK_INSPECT_ID{key, serial};
  const callback_irql irql;
  tr::span span;
  if (tr::on()) {
    span = tr::callback_begin("WskInspectEvent", trace_callback_socket,
                              {tr::number("serial", serial), tr::number("dead", dead ? 1 : 0)});
  }
  const WSK_INSPECT_ACTION action =
      t->WskInspectEvent(context, address(local), address(remote), dead ? nullptr : &id);
  if (tr::on()) {
    tr::callback_end(span, "WskInspectEvent", trace_callback_socket,
                     {tr::text("action", inspect_action_name(action))});
  }
  switch (action) {
  case WskInspectReject:
    return inspect_action::reject;
  case WskInspectAccept:
    return inspect_action::accept;
  case WskInspectPend:
    return inspect_action::pend;
  default:
    return inspect_action::invalid;
  }
}

NTSTATUS call_abort_event(category cat, const void *client_dispatch, PVOID context, void *id_copy,
                          ULONG_PTR key, ULONG serial) {
  const WSK_CLIENT_LISTEN_DISPATCH *t = listen_table(cat, client_dispatch);
  if (t == nullptr || t->WskAbortEvent == nullptr) {
    return STATUS_SUCCESS;
  }
  WSK_INSPECT_ID &id = *static_cast<PWSK_INSPECT_ID>(id_copy);
  id = WSK_INSPECT_ID{key, serial};
  const callback_irql irql;
  return traced("WskAbortEvent", {tr::number("serial", serial)},
                [&] { return t->WskAbortEvent(context, &id); });
}

NTSTATUS call_receive_event(category cat, const void *client_dispatch, PVOID context, ULONG flags,
                            data_indication_view *indication, SIZE_T indicated, SIZE_T *accepted) {
  const WSK_CLIENT_CONNECTION_DISPATCH *t = connection_table(cat, client_dispatch);
  *accepted = indicated;
  const callback_irql irql;
  return traced(
      "WskReceiveEvent",
      {tr::number("indicated", indicated), tr::hex("flags", flags | irql.flags()),
       tr::pointer("list", indication)},
      [&] {
        return t->WskReceiveEvent(context, flags | irql.flags(),
                                  reinterpret_cast<PWSK_DATA_INDICATION>(indication), indicated,
                                  accepted);
      },
      accepted);
}

NTSTATUS call_disconnect_event(category cat, const void *client_dispatch, PVOID context,
                               bool abortive) {
  const WSK_CLIENT_CONNECTION_DISPATCH *t = connection_table(cat, client_dispatch);
  const callback_irql irql;
  const ULONG flags = (abortive ? WSK_FLAG_ABORTIVE : 0) | irql.flags();
  return traced("WskDisconnectEvent", {tr::hex("flags", flags)},
                [&] { return t->WskDisconnectEvent(context, flags); });
}

NTSTATUS call_send_backlog_event(category cat, const void *client_dispatch, PVOID context,
                                 SIZE_T ideal_backlog) {
  const WSK_CLIENT_CONNECTION_DISPATCH *t = connection_table(cat, client_dispatch);
  const callback_irql irql;
  return traced("WskSendBacklogEvent", {tr::number("ideal_backlog", ideal_backlog)},
                [&] { return t->WskSendBacklogEvent(context, ideal_backlog); });
}

NTSTATUS call_receive_from_event(const void *client_dispatch, PVOID context, ULONG flags,
                                 datagram_indication_view *indication) {
  const auto *t = static_cast<const WSK_CLIENT_DATAGRAM_DISPATCH *>(client_dispatch);
  const callback_irql irql;
  std::uint64_t datagrams = 0;
  std::uint64_t bytes = 0;
  if (tr::on()) {
    for (const datagram_indication_view *d = indication; d != nullptr; d = d->next) {
      ++datagrams;
      bytes += d->buffer.length;
    }
  }
  return traced("WskReceiveFromEvent",
                {tr::number("datagrams", datagrams), tr::number("bytes", bytes),
                 tr::hex("flags", flags | irql.flags())},
                [&] {
                  return t->WskReceiveFromEvent(
                      context, flags | irql.flags(),
                      reinterpret_cast<PWSK_DATAGRAM_INDICATION>(indication));
                });
}

} // namespace uwsk::wsk
