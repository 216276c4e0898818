// What the loader asks of the WSK provider: its live objects and its loop threads.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace uwsk::wsk {

std::size_t live_socket_count();
struct registration;

// The sockets not yet freed, one line each: "WSK socket P (local A, remote B)". With `reg`, only
// its sockets on which WskCloseSocket was not called yet.
std::vector<std::string> describe_live_sockets(const registration *reg = nullptr);
// Whether a socket ever started the provider's I/O engine (net::engine::instance()).
bool provider_engine_started();
// Returns once every loop thread of the provider has finished what it was doing when called: a
// completion routine or event callback of a driver that was still returning (after setting the
// event DriverUnload waited for) has then left the driver's code. The loader calls it after
// DriverUnload, before the leak report.
void provider_quiesce();
std::size_t live_registration_count();
// The registrations not yet ended by WskDeregister.
struct live_registration {
  const void *registration;    // the PWSK_CLIENT
  const void *client_dispatch; // the WSK_CLIENT_DISPATCH given to WskRegister
  unsigned captures;
  unsigned sockets;
};
std::vector<live_registration> live_registrations();

} // namespace uwsk::wsk
