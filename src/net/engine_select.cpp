// Choosing the engine: the choices, UWSK_ENGINE, the process-wide choice of uwsk_set_engine,
// and the fallback from auto to epoll when the io_uring probe fails.
#include <uwsk/engine.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <system_error>

#include "net/backend.hpp"
#include "net/report.hpp"
#include "net/engine.hpp"

#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif

namespace uwsk::net {
namespace {

// What `auto` picks when io_uring works: the engine the benchmarks measured faster. io_uring
// must beat epoll on every row of `make bench` (pp1, pp64, bulk, UDP, accept, with the IRP and
// the event drivers, in the same run) to be chosen; bench/README.md ("Engines") has the last
// measurement. It did not, so auto means epoll; `uring` stays available by name.
constexpr engine_kind auto_engine = engine_kind::epoll;

std::mutex g_select_lock;
std::optional<engine_choice> g_process_choice; // guarded by g_select_lock
bool g_fallback_logged = false;                // guarded by g_select_lock
bool g_refusal_logged = false;                 // guarded by g_select_lock
bool g_bad_environment_logged = false;         // guarded by g_select_lock

// Copies text into a caller's buffer, truncated and always terminated.
void copy_out(const std::string &text, char *buffer, std::size_t size) {
  if (buffer != nullptr && size != 0) {
    std::snprintf(buffer, size, "%s", text.c_str());
  }
}

// Whether the process runs under valgrind. Valgrind cannot follow io_uring: the kernel writes
// the shared rings behind its back, so a program on the uring engine waits forever under it.
// Without valgrind's header, its preloaded core library gives it away.
bool under_valgrind() {
#ifdef RUNNING_ON_VALGRIND
  if (RUNNING_ON_VALGRIND) {
    return true;
  }
#endif
  const char *preload = std::getenv("LD_PRELOAD");
  return preload != nullptr && std::strstr(preload, "vgpreload_core") != nullptr;
}

// The io_uring probe, refused under valgrind as if io_uring were unavailable.
uring_support usable_uring() {
  if (under_valgrind()) {
    uring_support refused;
    refused.error = EOPNOTSUPP;
    refused.reason = "running under valgrind, which cannot follow io_uring's shared rings";
    return refused;
  }
  return probe_uring();
}

} // namespace

std::optional<engine_choice> parse_engine_choice(std::string_view text) {
  if (text == "epoll") {
    return engine_choice::epoll;
  }
  if (text == "uring") {
    return engine_choice::uring;
  }
  if (text == "auto") {
    return engine_choice::automatic;
  }
  return std::nullopt;
}

engine_choice environment_engine_choice() {
  std::lock_guard guard(g_select_lock);
  if (g_process_choice) {
    return *g_process_choice;
  }
  const char *text = std::getenv("UWSK_ENGINE");
  if (text == nullptr || *text == '\0') {
    return engine_choice::automatic;
  }
  if (auto choice = parse_engine_choice(text)) {
    return *choice;
  }
  if (!g_bad_environment_logged) {
    g_bad_environment_logged = true;
    report("UWSK_ENGINE=%s is not epoll, uring or auto; using auto", text);
  }
  return engine_choice::automatic;
}

engine_kind resolve_engine(engine_choice choice) {
  if (choice == engine_choice::from_environment) {
    choice = environment_engine_choice();
  }
  if (choice == engine_choice::epoll) {
    return engine_kind::epoll;
  }
  const uring_support support = usable_uring();
  if (support.available) {
    return choice == engine_choice::uring ? engine_kind::uring : auto_engine;
  }
  std::lock_guard guard(g_select_lock);
  if (choice == engine_choice::uring) {
    // Logged as well as thrown: the exception may end in a bug-check report that cannot show it.
    if (!g_refusal_logged) {
      g_refusal_logged = true;
      report("the io_uring engine was chosen, but io_uring is unavailable: %s",
             support.reason.c_str());
    }
    throw std::system_error(support.error, std::generic_category(),
                            "the io_uring engine is unavailable: " + support.reason);
  }
  if (!g_fallback_logged) {
    g_fallback_logged = true;
    report("io_uring is unavailable (%s); using the epoll engine", support.reason.c_str());
  }
  return engine_kind::epoll;
}

int set_process_engine_choice(engine_choice choice, std::string *why) {
  if (engine *running = engine::existing_instance()) {
    if (why != nullptr) {
      *why = std::string("the event loops are running already, on the ") +
             engine_kind_name(running->kind()) + " engine";
    }
    return -EBUSY;
  }
  if (choice == engine_choice::uring) {
    const uring_support support = usable_uring();
    if (!support.available) {
      if (why != nullptr) {
        *why = "io_uring is unavailable: " + support.reason;
      }
      return -(support.error != 0 ? support.error : ENOSYS);
    }
  }
  {
    std::lock_guard guard(g_select_lock);
    if (choice == engine_choice::from_environment) {
      g_process_choice.reset();
    } else {
      g_process_choice = choice;
    }
  }
  if (choice == engine_choice::automatic) {
    resolve_engine(choice); // probes now, and logs the fallback at start-up if there is one
  }
  return 0;
}

void reset_engine_selection_for_testing() {
  forget_uring_probe();
  std::lock_guard guard(g_select_lock);
  g_process_choice.reset();
  g_fallback_logged = false;
  g_refusal_logged = false;
  g_bad_environment_logged = false;
}

} // namespace uwsk::net

// ---- The C API (include/uwsk/engine.h) ---------------------------------------------------------

// uwsk_set_engine
extern "C" int uwsk_set_engine(const char *name, char *error, size_t error_size) {
  using namespace uwsk::net;
  const auto choice = name != nullptr ? parse_engine_choice(name) : std::nullopt;
  if (!choice) {
    copy_out(std::string("unknown engine '") + (name != nullptr ? name : "(null)") +
                 "': expected epoll, uring or auto",
             error, error_size);
    return -EINVAL;
  }
  std::string why;
  try {
    const int result = set_process_engine_choice(*choice, &why);
    if (result != 0) {
      copy_out(why, error, error_size);
    }
    return result;
  } catch (const std::exception &failure) {
    copy_out(failure.what(), error, error_size);
    return -ENOMEM;
  }
}

// uwsk_engine_name
extern "C" const char *uwsk_engine_name(void) {
  using namespace uwsk::net;
  if (engine *running = engine::existing_instance()) {
    return engine_kind_name(running->kind());
  }
  try {
    return engine_kind_name(resolve_engine(engine_choice::from_environment));
  } catch (const std::exception &) {
    return nullptr; // uring was chosen and io_uring is unavailable
  }
}
