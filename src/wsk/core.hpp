// The WSK provider's core, between its two halves.
//
// The Windows half (dispatch.cpp, registration.cpp, ...) includes wsk.h: it owns the dispatch
// tables, the registration block, and turns each WSK call into a call below. The Linux half
// (socket.cpp, stream.cpp, ...) includes the Linux socket headers and does the work. Windows
// Winsock headers and Linux socket headers cannot meet in one translation unit, so this header
// uses neither: Windows structures cross it as pointers to their bytes.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

#include <wdm.h>

namespace uwsk::wsk {

// The socket categories of WskSocket's Flags (docs/wsk-behaviour.md, "Socket categories").
enum class category : UCHAR { basic, listen, connection, datagram, stream };

// Operation flags, translated from the WSK_FLAG_* values by the Windows half so that the core
// needs no Windows header. (Internal values; not Windows facts.)
namespace op_flag {
inline constexpr ULONG nodelay = 0x1;  // WskSend WSK_FLAG_NODELAY
inline constexpr ULONG waitall = 0x2;  // WskReceive WSK_FLAG_WAITALL
inline constexpr ULONG drain = 0x4;    // WskReceive WSK_FLAG_DRAIN
inline constexpr ULONG abortive = 0x8; // WskDisconnect WSK_FLAG_ABORTIVE
} // namespace op_flag

// A WSK_BUF as the core sees it (same layout; dispatch.cpp asserts it).
struct buffer_view {
  PMDL mdl;
  ULONG offset;
  SIZE_T length;
};

// A WSK_BUF_LIST element as the core sees it (same layout; datagram.cpp asserts it).
struct buffer_list_view {
  buffer_list_view *next;
  buffer_view buffer;
};

// A WSK_DATA_INDICATION as the core sees it (same layout; event_calls.cpp asserts it).
struct data_indication_view {
  data_indication_view *next;
  buffer_view buffer;
};

// A WSK_DATAGRAM_INDICATION as the core sees it (same layout; event_calls.cpp asserts it).
struct datagram_indication_view {
  datagram_indication_view *next;
  buffer_view buffer;
  void *control;        // Windows CMSGHDR objects
  ULONG control_length; // bytes at `control`
  void *remote;         // a Windows SOCKADDR
};

// One WskRegister: lives from WskRegister until WskDeregister returns. Its address is stored
// in WSK_REGISTRATION.ReservedRegistrationContext and handed to clients as their PWSK_CLIENT.
// registration::magic while registered, and after WskDeregister (the object then stays readable
// for a while, registration.cpp).
constexpr ULONG registration_live = 0x4745524b; // "KREG"
constexpr ULONG registration_dead = 0x44474552; // "REGD"

struct registration {
  ULONG magic = registration_live;
  const void *client_dispatch = nullptr; // WSK_CLIENT_DISPATCH, valid until deregistration
  // The WSK_CLIENT_DISPATCH as it was at WskRegister (rule V1; its size is checked there).
  alignas(void *) unsigned char dispatch_copy[2 * sizeof(void *)] = {};
  PVOID client_context = nullptr;
  std::mutex lock;                 // guards the fields below
  std::condition_variable changed; // signalled when a count drops or deregistration starts
  unsigned captures = 0;           // successful captures not yet released
  unsigned sockets = 0;            // sockets created and not yet closed
  bool created_a_socket = false;   // ever: client-level settings are refused from then on
  unsigned pending = 0;            // client-level IRPs not yet completed (name resolution, ...)
  bool deregistering = false;
  ULONG static_events = 0; // WSK_SET_STATIC_EVENT_CALLBACKS mask
  LIST_ENTRY links{};      // on the list of live registrations (leak report)
};

// The checks of a client-level call (WskSocket, WskSocketConnect, ...) on `client`, non-NULL:
// a registration deregistered since (rule V3), no capture held (V3), a client dispatch table
// changed since WskRegister (V1) are verifier errors.
void registration_check_call(void *client, const char *function);

// Counts a socket, or a pending client-level IRP, against its registration.
void registration_add_socket(registration *reg);
void registration_remove_socket(registration *reg);

struct socket_object;

// The provider dispatch table of a category (dispatch.cpp).
const void *provider_dispatch_for(category cat);

// ---- Client-level functions -------------------------------------------------------------

// WskSocket: validates and creates. `windows_family` etc. as the client passed them.
NTSTATUS socket_create(registration *reg, USHORT windows_family, USHORT type, ULONG protocol,
                       category cat, PVOID context, const void *client_dispatch, PIRP irp);

// WskSocketConnect: a connection socket, bound to `local` and connected to `remote` (both
// Windows SOCKADDRs).
NTSTATUS socket_connect_new(registration *reg, USHORT type, ULONG protocol, const void *local,
                            const void *remote, PVOID context, const void *client_dispatch,
                            PIRP irp);

// What the socket core calls in a category's code (socket.hpp), and the one for `cat`
// (categories.cpp; NULL for basic sockets).
struct socket_behaviour;
const socket_behaviour *behaviour_of(category cat);

// Creates the Linux socket and the object for a category (socket.cpp); attaches it to a loop
// unless it is a basic socket.
NTSTATUS create_socket(registration *reg, USHORT windows_family, int type, int protocol,
                       category cat, PVOID context, const void *client_dispatch,
                       const socket_behaviour *behaviour, socket_object **out);

// ---- Socket functions (the WSK_SOCKET is the socket_object) --------------------------------

NTSTATUS socket_close(socket_object *s, PIRP irp);
NTSTATUS socket_bind(socket_object *s, const void *local, ULONG flags, PIRP irp);
NTSTATUS socket_listen(socket_object *s, PIRP irp);
NTSTATUS socket_accept(socket_object *s, ULONG flags, PVOID accept_context,
                       const void *accept_dispatch, void *local_out, void *remote_out, PIRP irp);
NTSTATUS socket_connect(socket_object *s, const void *remote, const buffer_view *data, ULONG flags,
                        bool extended, PIRP irp);
NTSTATUS socket_get_local_address(socket_object *s, void *out, PIRP irp);
NTSTATUS socket_get_remote_address(socket_object *s, void *out, PIRP irp);
NTSTATUS socket_send(socket_object *s, const buffer_view *buffer, ULONG flags, PIRP irp);
NTSTATUS socket_receive(socket_object *s, const buffer_view *buffer, ULONG flags, PIRP irp);
NTSTATUS socket_disconnect(socket_object *s, const buffer_view *buffer, ULONG flags, PIRP irp);
// Datagram sockets. `remote` is a Windows SOCKADDR (NULL: the fixed address, if any);
// `control` Windows WSACMSGHDR objects.
NTSTATUS socket_send_to(socket_object *s, const buffer_view *buffer, const void *remote,
                        ULONG control_length, const void *control, PIRP irp);
NTSTATUS socket_receive_from(socket_object *s, const buffer_view *buffer, void *remote_out,
                             PULONG control_length, void *control, PULONG control_flags, PIRP irp);
NTSTATUS socket_send_messages(socket_object *s, const buffer_list_view *list, const void *remote,
                              ULONG control_length, const void *control, PIRP irp);
// WskRelease of a WSK_DATAGRAM_INDICATION list (no IRP).
NTSTATUS socket_release_datagrams(socket_object *s, const void *indication);
NTSTATUS socket_inspect_complete(socket_object *s, ULONG_PTR key, ULONG serial, bool accept,
                                 PIRP irp);
// WskRelease of a WSK_DATA_INDICATION list (no IRP).
NTSTATUS socket_release_data(socket_object *s, const void *indication);

// The category a socket was created with, and its client-side identity.
category socket_category(const socket_object *s);
bool socket_is_valid(const socket_object *s);
// The socket a client passed to `function` (WskSend, ...): a pointer that is not an open WSK
// socket (closed, or never created) is a verifier report and a bug check (rule V30). Closed
// sockets stay readable for a while (socket.cpp, quarantine), so that the usual
// `Socket->Dispatch->WskSend(Socket, ...)` after a close is caught here rather than reading
// freed memory.
socket_object *socket_checked(void *socket, const char *function);
// Rule V40: an address out-buffer (`out`, not NULL) that the pool knows to be shorter than a
// SOCKADDR of the socket's family is a verifier error, before anything is written to it.
void socket_check_out_address(const socket_object *s, const void *out, const char *function);

// The socket an accept event refused (STATUS_REQUEST_NOT_ACCEPTED, or any failure): from now on
// every call on it is reported as rule V55, from every entry of its Dispatch table.
void socket_refuse(socket_object *s);

// ---- WskControlSocket and WskControlClient --------------------------------------------------
//
// control_socket.cpp (Windows half) checks each request against the rules of its option or
// IOCTL (request type, IRP required or NULL, category, IRQL), decodes the WSK structures, and
// passes the rest to socket_control (control_socket_io.cpp, Linux half). control_client.cpp
// implements WskControlClient, the cached security descriptors and the static event mask.

// A WskControlSocket request, as the Windows half decoded it.
enum class control_op : UCHAR {
  set_option,            // a transport or emulated option: level, name, input
  get_option,            // level, name, output
  set_event_mask,        // SO_WSK_EVENT_CALLBACK: event_mask, already valid for the category
  set_security,          // SO_WSK_SECURITY set: security (NULL restores the default)
  get_security,          // SO_WSK_SECURITY get: output receives a PSECURITY_DESCRIPTOR
  set_remote_address,    // SIO_WSK_SET_REMOTE_ADDRESS: input is a SOCKADDR (empty: clear)
  set_sendto_address,    // SIO_WSK_SET_SENDTO_ADDRESS: likewise
  query_send_backlog,    // SIO_WSK_QUERY_IDEAL_SEND_BACKLOG: output SIZE_T
  query_receive_backlog, // SIO_WSK_QUERY_RECEIVE_BACKLOG: output SIZE_T
  query_inspect_id,      // SIO_WSK_QUERY_INSPECT_ID: output WSK_INSPECT_ID
  set_silent_mode,       // SIO_WSK_SET_TCP_SILENT_MODE
  keepalive_values,      // SIO_KEEPALIVE_VALS: values = {onoff, time ms, interval ms}
  address_list_query,    // SIO_ADDRESS_LIST_QUERY: output SOCKET_ADDRESS_LIST
  address_list_change,   // SIO_ADDRESS_LIST_CHANGE: pends until the address list changes
  loopback_fast_path,    // SIO_LOOPBACK_FAST_PATH: values[0] = the BOOLEAN
};

struct control_request {
  control_op op = control_op::set_option;
  ULONG level = 0; // set_option, get_option: the Windows level and option name
  ULONG name = 0;
  const void *input = nullptr;
  SIZE_T input_size = 0;
  void *output = nullptr;
  SIZE_T output_size = 0;
  ULONG event_mask = 0;        // set_event_mask
  PVOID security = nullptr;    // set_security
  ULONG values[3] = {0, 0, 0}; // keepalive_values, loopback_fast_path
};

// Carries out a request. Returns its final status and the bytes written to request.output (or,
// with STATUS_BUFFER_OVERFLOW, the bytes needed) in *written; the caller completes the IRP.
// Only address_list_change, and an event disable waiting for a running callback, keep the IRP:
// they park it and return STATUS_PENDING.
NTSTATUS socket_control(socket_object *s, const control_request &request, PIRP irp,
                        SIZE_T *written);

// Called once for every socket just before it is freed (socket.cpp, free_socket): completes its
// pending SIO_ADDRESS_LIST_CHANGE IRPs with STATUS_CANCELLED, removes it from the address
// sharing registry and drops its reference on its SO_WSK_SECURITY descriptor.
void release_control_state(socket_object *s);

// The WSK_EVENT_* flags SO_WSK_EVENT_CALLBACK may enable on a socket of a category, and the
// statically enabled ones (WSK_SET_STATIC_EVENT_CALLBACKS) a new socket of it starts with.
ULONG events_valid_for(category cat);
ULONG static_event_mask(registration *reg, category cat);

// Cached security descriptors (WSK_CACHE_SD). add_reference returns false for a pointer that is
// not a live cached descriptor; release stops with a verifier report (rule V66) for one.
bool security_descriptor_add_reference(PVOID cached);
void security_descriptor_release(PVOID cached);

// Completes the registration's pending WSK_TRANSPORT_LIST_CHANGE IRPs with STATUS_CANCELLED
// (WskDeregister calls it after marking the registration as deregistering).
void cancel_transport_list_changes(registration *reg);

// Whether this process may open raw IP sockets (WSK_TRANSPORT_LIST_QUERY lists them only then).
bool raw_sockets_permitted();

// ---- Event callbacks (event_calls.cpp, Windows half) --------------------------------------
//
// The Linux half decides when a callback is due (events.cpp) and calls these with no lock
// held, on the socket's loop thread. `cat` and `client_dispatch` are the socket's; for a stream
// socket the dispatch is a WSK_CLIENT_STREAM_DISPATCH, whose Listen or Connect table is used.
// Event bits are the WSK_EVENT_* values (win_constants.hpp has them for the Linux half).

// Whether the client's table for `cat` has the callback of `event` (one WSK_EVENT_* bit).
bool client_has_callback(category cat, const void *client_dispatch, ULONG event);

// WskAcceptEvent. `local` and `remote` are Windows SOCKADDRs (NULL with a NULL socket).
NTSTATUS call_accept_event(category cat, const void *client_dispatch, PVOID context,
                           const void *local, const void *remote, socket_object *accepted,
                           PVOID *accepted_context, const void **accepted_dispatch);

// The WSK_INSPECT_ACTION values, as the core sees them.
enum class inspect_action : UCHAR { reject, accept, pend, invalid };

// WskInspectEvent (inspect ID NULL when `dead`) and WskAbortEvent.
inspect_action call_inspect_event(category cat, const void *client_dispatch, PVOID context,
                                  const void *local, const void *remote, ULONG_PTR key,
                                  ULONG serial, bool dead);
NTSTATUS call_abort_event(category cat, const void *client_dispatch, PVOID context, ULONG_PTR key,
                          ULONG serial);

// WskReceiveEvent (indication NULL: the socket stopped working). `*accepted` is preset to
// `indicated` and comes back as the client left it.
NTSTATUS call_receive_event(category cat, const void *client_dispatch, PVOID context, ULONG flags,
                            data_indication_view *indication, SIZE_T indicated, SIZE_T *accepted);
NTSTATUS call_disconnect_event(category cat, const void *client_dispatch, PVOID context,
                               bool abortive);
NTSTATUS call_send_backlog_event(category cat, const void *client_dispatch, PVOID context,
                                 SIZE_T ideal_backlog);
NTSTATUS call_receive_from_event(const void *client_dispatch, PVOID context, ULONG flags,
                                 datagram_indication_view *indication);

// ---- Accounting for the loader --------------------------------------------------------------

std::size_t live_socket_count();
// The sockets not yet closed, one line each: "WSK socket P (local A, remote B)".
std::vector<std::string> describe_live_sockets();
// Whether a socket ever started the provider's I/O engine (net::engine::instance()).
bool provider_engine_started();
// Returns once every loop thread of the provider has finished what it was doing when called: a
// completion routine or event callback of a driver that was still returning (after setting the
// event DriverUnload waited for) has then left the driver's code. The loader calls it after
// DriverUnload, before the leak report.
void provider_quiesce();
std::size_t live_registration_count();

} // namespace uwsk::wsk
