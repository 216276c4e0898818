// The driver host: load a driver shared object, run DriverEntry and DriverUnload on system
// threads, and report what the driver left behind.
#include <uwsk/host.h>

#include <dlfcn.h>

#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>

#include <wdm.h>
#include <uwsk/log.h>
#include <uwsk/verifier.h>

#include "nt/dbg/trace.hpp"
#include "host/shutdown.hpp"
#include "nt/dbg/activity.hpp"
#include "nt/fault/plan.hpp"
#include "nt/ex/pool.hpp"
#include "nt/ex/work_queue.hpp"
#include "nt/dbg/verifier.hpp"
#include "nt/io/io_objects.hpp"
#include "nt/ke/timer.hpp"
#include "nt/ps/object.hpp"
#include "nt/ps/thread.hpp"
#include "wsk/registration.hpp"
#include "wsk/provider.hpp"

struct uwsk_driver {
  void *image = nullptr;              // from dlopen; closed by uwsk_driver_release
  PDRIVER_INITIALIZE entry = nullptr; // the driver's DriverEntry
  DRIVER_OBJECT object{};             // what DriverEntry fills in
  DRIVER_EXTENSION extension{};
  std::u16string driver_name;        // \Driver\NAME, backing object.DriverName
  std::u16string registry_path_text; // backing registry_path
  UNICODE_STRING registry_path{};
  NTSTATUS entry_status = STATUS_PENDING;
};

namespace uwsk::host {
namespace {

void set_error(char *error, size_t size, const char *format, ...) {
  if (error == nullptr || size == 0) {
    return;
  }
  va_list args;
  va_start(args, format);
  std::vsnprintf(error, size, format, args);
  va_end(args);
}

std::u16string widen(const std::string &text) {
  std::u16string wide;
  for (unsigned char c : text) {
    wide += static_cast<char16_t>(c);
  }
  return wide;
}

void init_unicode(UNICODE_STRING &target, std::u16string &text) {
  target.Buffer = reinterpret_cast<PWSTR>(text.data());
  target.Length = static_cast<USHORT>(text.size() * sizeof(WCHAR));
  target.MaximumLength = static_cast<USHORT>((text.size() + 1) * sizeof(WCHAR));
}

// The service name Windows would use for "path/to/echo-server.so": "echo-server".
std::string service_name_of(const char *path) {
  std::string name = path;
  const auto slash = name.find_last_of('/');
  if (slash != std::string::npos) {
    name.erase(0, slash + 1);
  }
  const auto dot = name.find('.');
  if (dot != std::string::npos && dot != 0) {
    name.erase(dot);
  }
  return name.empty() ? std::string("driver") : name;
}

// Runs `routine(context)` on a new system thread and waits for it, up to `timeout_ms`
// (0 = forever). Returns false when the wait timed out.
bool run_on_system_thread(PKSTART_ROUTINE routine, PVOID context, unsigned timeout_ms,
                          NTSTATUS &create_status) {
  HANDLE handle = nullptr;
  create_status =
      PsCreateSystemThread(&handle, THREAD_ALL_ACCESS, nullptr, nullptr, nullptr, routine, context);
  if (!NT_SUCCESS(create_status)) {
    return true;
  }
  PVOID thread = nullptr;
  const NTSTATUS referenced =
      ObReferenceObjectByHandle(handle, SYNCHRONIZE, *PsThreadType, KernelMode, &thread, nullptr);
  ZwClose(handle);
  if (!NT_SUCCESS(referenced)) {
    create_status = referenced;
    return true;
  }
  LARGE_INTEGER timeout;
  timeout.QuadPart = -static_cast<LONGLONG>(timeout_ms) * 10000;
  const NTSTATUS waited = KeWaitForSingleObject(thread, Executive, KernelMode, FALSE,
                                                timeout_ms == 0 ? nullptr : &timeout);
  ObDereferenceObject(thread);
  return waited != STATUS_TIMEOUT;
}

// Whether `address` lies in another loaded object than the driver image `image` (the host
// program, libuwsk): a registration whose client dispatch is there is not the driver's.
bool in_other_object(const void *address, void *image) {
  Dl_info info{};
  if (dladdr(address, &info) == 0 || info.dli_fbase == nullptr) {
    return false; // pool or heap: the driver's, as far as anyone can tell
  }
  Dl_info driver{};
  void *entry = dlsym(image, "DriverEntry");
  return entry != nullptr && dladdr(entry, &driver) != 0 && driver.dli_fbase != info.dli_fbase;
}

// Rule V2: DriverUnload must not return before WskDeregister has returned for each of its
// registrations: the provider would call a client whose code is being unmapped.
void check_unload_deregistered(uwsk_driver *driver) {
  if (uwsk::wsk::live_registration_count() == 0) {
    return;
  }
  char text[200];
  std::snprintf(text, sizeof text, "driver object %p", static_cast<void *>(&driver->object));
  std::string objects = text;
  bool any = false;
  for (const auto &r : uwsk::wsk::live_registrations()) {
    if (in_other_object(r.client_dispatch, driver->image)) {
      continue;
    }
    any = true;
    std::snprintf(text, sizeof text,
                  "; WSK registration %p (client dispatch %p, %u capture(s) held, %u socket(s) "
                  "open)",
                  r.registration, r.client_dispatch, r.captures, r.sockets);
    objects += text;
  }
  if (any) {
    uwsk::nt::verifier::error(2,
                              "DriverUnload returned while a WSK registration was still "
                              "registered: call WskDeregister (which waits for the client's "
                              "sockets, captures and IRPs) before DriverUnload returns",
                              objects.c_str(), reinterpret_cast<ULONG_PTR>(&driver->object));
  }
}

VOID NTAPI driver_entry_thread(PVOID context) {
  auto *driver = static_cast<uwsk_driver *>(context);
  uwsk::nt::activity::scope running(uwsk::nt::activity::driver_entry, &driver->object);
  driver->entry_status = driver->entry(&driver->object, &driver->registry_path);
}

VOID NTAPI driver_unload_thread(PVOID context) {
  auto *driver = static_cast<uwsk_driver *>(context);
  uwsk::nt::activity::scope running("DriverUnload", &driver->object);
  driver->object.DriverUnload(&driver->object);
  check_unload_deregistered(driver);
}

} // namespace
} // namespace uwsk::host

using namespace uwsk::host;

// uwsk_driver_service_name
extern "C" size_t uwsk_driver_service_name(const char *path, char *name, size_t name_size) {
  const std::string derived = service_name_of(path != nullptr ? path : "");
  if (name != nullptr && name_size != 0) {
    std::snprintf(name, name_size, "%s", derived.c_str());
  }
  return derived.size();
}

namespace {

// Whether `file` starts as a Windows PE image does: "MZ", the DOS header of every .sys and .dll.
bool is_windows_image(const std::string &file) {
  std::FILE *f = std::fopen(file.c_str(), "rb");
  if (f == nullptr) {
    return false;
  }
  char magic[2] = {0, 0};
  const bool mz = std::fread(magic, 1, 2, f) == 2 && magic[0] == 'M' && magic[1] == 'Z';
  std::fclose(f);
  return mz;
}

} // namespace

extern "C" uwsk_driver *uwsk_driver_load(const char *path, const char *service_name, char *error,
                                         size_t error_size) {
  if (path == nullptr) {
    set_error(error, error_size, "no driver file given");
    return nullptr;
  }
  uwsk::nt::trace::start_from_environment(); // UWSK_TRACE (uwsk-run --trace started it already)
  // A bare file name would make dlopen search the library path; a driver is a file.
  std::string file = path;
  if (file.find('/') == std::string::npos) {
    file = "./" + file;
  }
  if (is_windows_image(file)) {
    set_error(error, error_size,
              "%s is a Windows driver image (PE); uwsk runs drivers built from their sources for "
              "Linux: compile them against uwsk's WDK headers into a shared object "
              "(uwsk_add_driver, or the uwsk-driver pkg-config flags) and run that",
              path);
    return nullptr;
  }
  dlerror();
  void *image = dlopen(file.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (image == nullptr) {
    const char *why = dlerror();
    set_error(error, error_size, "%s is not a loadable driver: %s", path,
              why != nullptr ? why : "dlopen failed");
    return nullptr;
  }
  dlerror();
  void *entry = dlsym(image, "DriverEntry");
  if (entry == nullptr) {
    set_error(error, error_size,
              "%s is not a driver: it does not export DriverEntry (build it with uwsk_add_driver "
              "or the uwsk-driver pkg-config flags)",
              path);
    dlclose(image);
    return nullptr;
  }
  uwsk_crash_report_install(); // a fault in the driver gets a report (uwsk/verifier.h)
  auto *driver = new uwsk_driver;
  driver->image = image;
  driver->entry = reinterpret_cast<PDRIVER_INITIALIZE>(entry);
  const std::string name =
      service_name != nullptr && *service_name != '\0' ? service_name : service_name_of(path);
  driver->driver_name = widen("\\Driver\\" + name);
  driver->registry_path_text =
      widen("\\Registry\\Machine\\System\\CurrentControlSet\\Services\\" + name);
  init_unicode(driver->object.DriverName, driver->driver_name);
  init_unicode(driver->registry_path, driver->registry_path_text);
  driver->object.Type = IO_TYPE_DRIVER;
  driver->object.Size = sizeof(DRIVER_OBJECT);
  driver->object.DriverInit = driver->entry;
  driver->object.DriverStart = image;
  driver->object.DriverExtension = &driver->extension;
  driver->extension.DriverObject = &driver->object;
  init_unicode(driver->extension.ServiceKeyName, driver->driver_name);
  driver->extension.ServiceKeyName.Buffer += 8; // past "\Driver\"
  driver->extension.ServiceKeyName.Length -= 8 * sizeof(WCHAR);
  driver->extension.ServiceKeyName.MaximumLength -= 8 * sizeof(WCHAR);
  return driver;
}

extern "C" NTSTATUS uwsk_driver_start(uwsk_driver *driver) {
  uwsk::fault::announce(); // the fault plan and its seed head the driver's log
  NTSTATUS created = STATUS_SUCCESS;
  run_on_system_thread(driver_entry_thread, driver, 0, created);
  if (!NT_SUCCESS(created)) {
    return created;
  }
  return driver->entry_status;
}

extern "C" uwsk_unload_result uwsk_driver_unload(uwsk_driver *driver, unsigned timeout_ms) {
  if (driver->object.DriverUnload == nullptr) {
    return UWSK_UNLOAD_NO_ROUTINE;
  }
  NTSTATUS created = STATUS_SUCCESS;
  if (!run_on_system_thread(driver_unload_thread, driver, timeout_ms == 0 ? 1 : timeout_ms,
                            created)) {
    return UWSK_UNLOAD_TIMED_OUT;
  }
  uwsk::host::quiesce_runtime();
  return UWSK_UNLOAD_DONE;
}

extern "C" void uwsk_driver_release(uwsk_driver *driver) {
  if (driver == nullptr) {
    return;
  }
  // Timers still set would call into the driver after its image is gone; they were reported as
  // leaks, and are dropped here. The worker threads are idle after quiesce_runtime.
  uwsk::nt::stop_timer_thread();
  uwsk::nt::stop_work_queues();
  // Code of the driver may still run on a thread it started and never stopped; its image then
  // has to stay mapped.
  if (uwsk::nt::live_system_thread_count() == 0) {
    dlclose(driver->image);
  }
  delete driver;
}

extern "C" size_t uwsk_leak_report(void) {
  size_t leaks = 0;
  uwsk_log_message("uwsk", "leak report:");
  for (const auto &usage : uwsk::nt::pool_outstanding()) {
    char site[256];
    uwsk::nt::verifier::describe_code_address(usage.first_site, site, sizeof site);
    uwsk_log_message("uwsk",
                     "  pool tag '%s' (0x%08x): %zu allocation(s), %zu byte(s); the oldest "
                     "allocated from %s",
                     uwsk::nt::pool_tag_text(usage.tag).c_str(), usage.tag, usage.allocations,
                     usage.bytes, site);
    leaks += usage.allocations;
  }
  if (const size_t irps = uwsk::nt::live_irps(); irps != 0) {
    uwsk_log_message("uwsk", "  %zu IRP(s) from IoAllocateIrp never freed with IoFreeIrp", irps);
    constexpr size_t shown = 32;
    for (const auto &line : uwsk::nt::describe_live_irps(shown)) {
      uwsk_log_message("uwsk", "    %s", line.c_str());
    }
    if (irps > shown) {
      uwsk_log_message("uwsk", "    ... and %zu more", irps - shown);
    }
    leaks += irps;
  }
  if (const size_t mdls = uwsk::nt::live_mdls(); mdls != 0) {
    uwsk_log_message("uwsk", "  %zu MDL(s) from IoAllocateMdl never freed with IoFreeMdl", mdls);
    leaks += mdls;
  }
  for (const auto &line : uwsk::nt::describe_live_devices()) {
    uwsk_log_message("uwsk", "  %s never deleted with IoDeleteDevice", line.c_str());
    ++leaks;
  }
  if (const size_t lists = uwsk::nt::live_lookaside_lists(); lists != 0) {
    uwsk_log_message("uwsk", "  %zu lookaside list(s) never deleted", lists);
    leaks += lists;
  }
  if (const size_t sockets = uwsk::wsk::live_socket_count(); sockets != 0) {
    uwsk_log_message("uwsk", "  %zu WSK socket(s) never closed with WskCloseSocket:", sockets);
    for (const auto &line : uwsk::wsk::describe_live_sockets()) {
      uwsk_log_message("uwsk", "    %s", line.c_str());
    }
    leaks += sockets;
  }
  if (const size_t registrations = uwsk::wsk::live_registration_count(); registrations != 0) {
    uwsk_log_message("uwsk", "  %zu WSK registration(s) never ended with WskDeregister",
                     registrations);
    leaks += registrations;
  }
  for (const auto &line : uwsk::nt::describe_open_handles()) {
    uwsk_log_message("uwsk", "  %s never closed with ZwClose", line.c_str());
    ++leaks;
  }
  for (const auto &line : uwsk::nt::describe_pending_timers()) {
    uwsk_log_message("uwsk", "  %s still pending after DriverUnload", line.c_str());
    ++leaks;
  }
  for (const auto &line : uwsk::nt::describe_live_system_threads()) {
    uwsk_log_message("uwsk", "  system thread still running: %s", line.c_str());
    ++leaks;
  }
  if (leaks == 0) {
    uwsk_log_message("uwsk", "  nothing leaked");
  } else {
    // Rule V81 (a warning, so logged after the list: strict mode stops here).
    char count[160];
    std::snprintf(count, sizeof count, "%zu object(s) listed above", leaks);
    uwsk::nt::verifier::warning(81,
                                "the driver left objects behind at unload (pool, IRPs, MDLs, "
                                "sockets, registrations, handles, timers or threads): free them "
                                "in DriverUnload",
                                count, leaks);
  }
  return leaks;
}
