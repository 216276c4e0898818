// The registration object behind a PWSK_CLIENT (windows/registration.cpp) and the checks and
// counts both halves make against it.
#pragma once

#include <condition_variable>
#include <mutex>

#include <wdm.h>

namespace uwsk::wsk {

// One WskRegister: lives from WskRegister until WskDeregister returns. Its address is stored
// in WSK_REGISTRATION.ReservedRegistrationContext and handed to clients as their PWSK_CLIENT.
// registration::magic while registered, and after WskDeregister (the object then stays readable
// for a while, windows/registration.cpp).
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
  unsigned sockets = 0;            // sockets created and not yet closed (registration rule 3)
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

// Counts a socket against its registration, from its creation until its close IRP's completion
// routine has returned (registration rule 3); WskDeregister waits for the count to drop to 0.
void registration_add_socket(registration *reg);
void registration_remove_socket(registration *reg);

// Counts a client-level IRP (name resolution, WSK_TRANSPORT_LIST_CHANGE) against its
// registration until registration_drop_pending, which the caller calls after completing it
// (registration rule 3). With `unless_deregistering`, refuses (false, nothing counted) once
// WskDeregister has started.
bool registration_add_pending(registration *reg, bool unless_deregistering);
void registration_drop_pending(registration *reg);

} // namespace uwsk::wsk
