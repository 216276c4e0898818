// WskControlSocket and WskControlClient, between the two halves.
//
// windows/control.cpp (Windows half) checks each request against the rules of its option or
// IOCTL (request type, IRP required or NULL, category, IRQL), decodes the WSK structures, and
// passes the rest to socket_control (linux/control.cpp, Linux half). windows/control_client.cpp
// implements WskControlClient, the cached security descriptors and the static event mask.
#pragma once

#include <wdm.h>

#include "wsk/views.hpp"

namespace uwsk::wsk {

struct registration;
struct socket_object;

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

// Called once for every socket just before it is freed (linux/socket.cpp, free_socket): completes
// its pending SIO_ADDRESS_LIST_CHANGE IRPs with STATUS_CANCELLED, removes it from the address
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

} // namespace uwsk::wsk
