// uwsk-run: load a WSK driver built for uwsk, run it until told to stop, unload it and report
// what it leaked.
#include <dlfcn.h>
#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include <ntstatus.h>
#include <uwsk/engine.h>
#include <uwsk/faults.h>
#include <uwsk/host.h>
#include <uwsk/log.h>
#include <uwsk/registry.h>
#include <uwsk/status.h>
#include <uwsk/trace.h>
#include <uwsk/verifier.h>
#include <uwsk/version.h>

namespace {

// Exit statuses, also listed in --help.
constexpr int exit_ok = 0;
constexpr int exit_usage = 1;
constexpr int exit_load_failed = 2;
constexpr int exit_entry_failed = 3;
constexpr int exit_leaks = 4;
constexpr int exit_unload_timeout = 5;

// The longest --unload-after and --unload-timeout, in seconds (49 days): the most milliseconds
// DriverUnload's timeout can count.
constexpr double max_seconds = 4294967;

// The end of --help: exit statuses and the environment variables libuwsk reads (every getenv of
// a UWSK_ name in the sources; tests/integration/environment_doc_test.sh checks that this text
// and the man page name them all).
constexpr const char *help_footer =
    "Exit status:\n"
    "  0  success\n"
    "  1  bad usage, or the --engine asked for cannot work here\n"
    "  2  the driver could not be loaded (not a shared object, no DriverEntry, or a Windows\n"
    "     .sys/.dll: uwsk runs drivers built from their sources for Linux)\n"
    "  3  DriverEntry failed (or did not fail as --expect-status said)\n"
    "  4  leaks, with --strict\n"
    "  5  DriverUnload did not return within --unload-timeout\n"
    "  A bug check, and a verifier error (or warning, with --verify=strict), ends the process\n"
    "  with SIGABRT (shell status 134). A fault in driver code is reported and ends it with\n"
    "  its signal: 139 SIGSEGV, 135 SIGBUS, 132 SIGILL, 136 SIGFPE, 134 abort.\n"
    "\n"
    "Environment (read by libuwsk, so by any program hosting a driver):\n"
    "  UWSK_ENGINE=epoll|uring|auto\n"
    "      The I/O engine when --engine is not given; default auto. Any other value is logged\n"
    "      and treated as auto.\n"
    "  UWSK_LOOPS=N\n"
    "      The number of event-loop threads, 1 to 1024; default one per CPU. Any other value\n"
    "      is ignored.\n"
    "  UWSK_RING_IO=0\n"
    "      On the io_uring engine, queued WskReceive and WskSend IRPs of stream sockets wait\n"
    "      for readiness and use system calls, as on epoll, and receive events read on\n"
    "      readiness. Default: the ring performs them, and receive events read through one\n"
    "      multishot receive per connection into the loop's provided buffers.\n"
    "  UWSK_WAIT_ASSIST=0\n"
    "      A thread waiting for the event of a WSK IRP it has just seen pend sleeps until an\n"
    "      event loop completes the IRP. Default: it polls the socket and completes the IRP\n"
    "      itself.\n"
    "  UWSK_UDP_SEND_BATCH=0\n"
    "      Each WskSendTo a WskReceiveFromEvent makes on its own socket is sent during the\n"
    "      call. Default: those sends return STATUS_PENDING and leave together, with\n"
    "      sendmmsg, when the callback returns.\n"
    "  UWSK_DBG_LEVEL=N|0xMASK\n"
    "      The DbgPrintEx/KdPrintEx levels shown, for every component: N shows levels 0 to N\n"
    "      (0 error, 1 warning, 2 trace, 3 info; default 3), 0x... is the level mask itself.\n"
    "      DbgPrint and KdPrint are always shown.\n"
    "  UWSK_WPP_LEVEL=N|NAME\n"
    "      The highest WPP trace level logged once a driver calls WPP_INIT_TRACING: a "
    "TRACE_LEVEL_\n"
    "      number or name (CRITICAL, ERROR, WARNING, INFORMATION, VERBOSE); default INFORMATION.\n"
    "  UWSK_WPP_FLAGS=MASK\n"
    "      The WPP flags logged (the first 32 of each control GUID, bit 0 for the first\n"
    "      WPP_DEFINE_BIT); decimal or 0x hex; default all.\n"
    "  UWSK_TRACELOGGING_LEVEL=N|NAME\n"
    "      The highest TraceLogging event level logged, as UWSK_WPP_LEVEL; default VERBOSE (all).\n"
    "  UWSK_BREAK=1\n"
    "      DbgBreakPoint, __debugbreak and failed assertions (ASSERT, NT_ASSERT, PAGED_CODE)\n"
    "      raise SIGTRAP, so that gdb stops there; without a debugger SIGTRAP ends the\n"
    "      process. Unset: a break is logged with a backtrace and the driver continues.\n"
    "  UWSK_ASSERT=log\n"
    "      A failed assertion is logged and the driver continues. Unset (and without\n"
    "      UWSK_BREAK=1): it bug-checks with KMODE_EXCEPTION_NOT_HANDLED.\n"
    "  UWSK_ROOT=DIR\n"
    "      Where the Zw file API keeps files: \\??\\C:\\dir\\name is DIR/C/dir/name and\n"
    "      \\SystemRoot is DIR/C/Windows. Unset: a directory made for the run,\n"
    "      ${TMPDIR:-/tmp}/uwsk-root-PID, kept afterwards; its path is logged.\n"
    "  UWSK_PROVIDER_READY_DELAY_MS=N\n"
    "      The WSK subsystem becomes ready N ms after the process starts instead of at once;\n"
    "      until then WskCaptureProviderNPI waits (or fails with STATUS_DEVICE_NOT_READY\n"
    "      under WSK_NO_WAIT) and WskQueryProviderCharacteristics fails. For testing how a\n"
    "      driver copes with a WSK subsystem that comes up late.\n"
    "  UWSK_TRACE=FILE\n"
    "      Trace every WSK call, IRP completion and event callback to FILE, as --trace does\n"
    "      (which wins when both are given).\n"
    "  UWSK_VERIFY=strict\n"
    "      Verifier warnings stop the process as errors do (what --verify=strict sets).\n"
    "  UWSK_VERIFY=off\n"
    "      The verifier's bookkeeping is off (what --verify=off sets): no lists of live IRPs\n"
    "      and pool blocks (the leak report only counts IRPs), no IRP submission checks (V10,\n"
    "      V13, V17), closed sockets freed at once instead of quarantined (V30, V55 reports\n"
    "      become use after free).\n"
    "      For measuring what the verifier costs.\n"
    "  UWSK_VERIFY_STACKS=1\n"
    "      IoAllocateIrp keeps its caller's whole stack, and the leak report shows it for each\n"
    "      IRP never freed (an unwind per allocation).\n"
    "  UWSK_VERIFY_DEREGISTER_MS=N\n"
    "      WskDeregister reports what keeps it waiting (rule V6: captures, open sockets with\n"
    "      their endpoints, pending IRPs) after N ms instead of 10 s.\n"
    "  UWSK_CRASH_REPORT=0\n"
    "      No crash report for faults: the process dies of the signal at once. (The report\n"
    "      also stays out of the way under gdb, AddressSanitizer and valgrind.)\n"
    "  UWSK_FAULTS=SPEC, UWSK_SEED=N\n"
    "      The fault plan and its seed when --faults and --seed are not given (docs/faults.md);\n"
    "      without UWSK_SEED a random seed is chosen and logged.\n"
    "  UWSK_TEST_URING_UNAVAILABLE=TEXT\n"
    "      For tests: the io_uring probe fails with TEXT as its reason, as on a kernel\n"
    "      without io_uring (auto then uses epoll, uring is refused).\n"
    "  UWSK_TEST_URING_NO_DEFER=1\n"
    "      For tests: io_uring rings use cooperative task running, as on kernels before\n"
    "      Linux 6.1, instead of deferred task running.\n"
    "\n"
    "See uwsk-run(1).";

// Whether uwsk's log goes to a file (--log): errors then also go to stderr, once; otherwise the
// log is stderr and they are written there once, through the log.
bool g_log_to_file = false;

// An error that ends the run: on the log, and on stderr when the log is a file.
void report_error(const std::string &text) {
  uwsk_log_message("uwsk-run", "%s", text.c_str());
  if (g_log_to_file) {
    std::fprintf(stderr, "uwsk-run: %s\n", text.c_str());
  }
}

std::string describe(NTSTATUS status) {
  char text[96];
  return uwsk_status_describe(status, text, sizeof(text));
}

// Accepts a status by name (STATUS_ACCESS_DENIED) or number (0xC0000022).
bool parse_status(const std::string &text, NTSTATUS &status) {
  if (uwsk_status_from_name(text.c_str(), &status)) {
    return true;
  }
  errno = 0;
  char *end = nullptr;
  const unsigned long long value = std::strtoull(text.c_str(), &end, 0);
  if (errno != 0 || end == text.c_str() || *end != '\0' || value > 0xFFFFFFFFull) {
    return false;
  }
  status = static_cast<NTSTATUS>(static_cast<uint32_t>(value));
  return true;
}

// The service name uwsk_driver_load derives from a driver's path when none is given.
std::string default_service_name(const std::string &path) {
  std::string name(uwsk_driver_service_name(path.c_str(), nullptr, 0) + 1, '\0');
  uwsk_driver_service_name(path.c_str(), name.data(), name.size());
  name.pop_back();
  return name;
}

// Splits "NAME=VALUE" (NAME not empty).
bool split_parameter(const std::string &text, std::string &name, std::string &value) {
  const auto equals = text.find('=');
  if (equals == std::string::npos || equals == 0) {
    return false;
  }
  name = text.substr(0, equals);
  value = text.substr(equals + 1);
  return true;
}

// A REG_DWORD given in decimal or as 0x hexadecimal.
bool parse_dword(const std::string &text, uint32_t &value) {
  if (text.empty() || text[0] == '-' || text[0] == '+') {
    return false;
  }
  errno = 0;
  char *end = nullptr;
  const bool hex = text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X');
  const unsigned long long parsed = std::strtoull(text.c_str(), &end, hex ? 16 : 10);
  if (errno != 0 || end == text.c_str() || *end != '\0' || parsed > 0xFFFFFFFFull) {
    return false;
  }
  value = static_cast<uint32_t>(parsed);
  return true;
}

// Creates the driver's service key, as the service control manager's database would hold it,
// and its Parameters key with what --param and --param-dword give. Returns false (after saying
// why) on a malformed parameter.
bool fill_service_key(const std::string &service_name, const std::string &driver_path,
                      const std::vector<std::string> &strings,
                      const std::vector<std::string> &dwords) {
  const std::string service_key =
      "\\Registry\\Machine\\System\\CurrentControlSet\\Services\\" + service_name;
  const std::string parameters_key = service_key + "\\Parameters";
  constexpr uint32_t service_kernel_driver = 1; // SERVICE_KERNEL_DRIVER
  constexpr uint32_t service_demand_start = 3;  // SERVICE_DEMAND_START
  constexpr uint32_t service_error_normal = 1;  // SERVICE_ERROR_NORMAL
  uwsk_registry_set_dword(service_key.c_str(), "Type", service_kernel_driver);
  uwsk_registry_set_dword(service_key.c_str(), "Start", service_demand_start);
  uwsk_registry_set_dword(service_key.c_str(), "ErrorControl", service_error_normal);
  uwsk_registry_set_string(service_key.c_str(), "ImagePath", driver_path.c_str());
  std::string name;
  std::string value;
  for (const auto &text : strings) {
    if (!split_parameter(text, name, value)) {
      std::fprintf(stderr, "uwsk-run: --param: '%s' is not NAME=VALUE\n", text.c_str());
      return false;
    }
    uwsk_registry_set_string(parameters_key.c_str(), name.c_str(), value.c_str());
  }
  for (const auto &text : dwords) {
    uint32_t number = 0;
    if (!split_parameter(text, name, value) || !parse_dword(value, number)) {
      std::fprintf(stderr,
                   "uwsk-run: --param-dword: '%s' is not NAME=N (N decimal or 0x hexadecimal, "
                   "at most 0xFFFFFFFF)\n",
                   text.c_str());
      return false;
    }
    uwsk_registry_set_dword(parameters_key.c_str(), name.c_str(), number);
  }
  return true;
}

// Waits for SIGINT or SIGTERM, or until `seconds` have passed (negative: no limit).
void wait_for_stop(const sigset_t &signals, double seconds) {
  for (;;) {
    siginfo_t info;
    int received;
    if (seconds < 0) {
      received = sigwaitinfo(&signals, &info);
    } else {
      timespec timeout;
      timeout.tv_sec = static_cast<time_t>(seconds);
      timeout.tv_nsec = static_cast<long>((seconds - std::floor(seconds)) * 1e9);
      received = sigtimedwait(&signals, &info, &timeout);
    }
    if (received > 0) {
      uwsk_log_message("uwsk-run", "received %s; unloading", strsignal(received));
      return;
    }
    if (errno == EAGAIN) {
      return;
    }
  }
}

// --sanitize: a driver built with AddressSanitizer needs its runtime loaded before every other
// library, which only LD_PRELOAD can do for a program built without it; so uwsk-run runs itself
// again with the runtime preloaded. Returns (false, after saying why) only when it cannot; when
// the runtime is already there (preloaded, or an ASan build of uwsk) it returns true at once.
bool start_sanitized(char **argv) {
  if (dlsym(RTLD_DEFAULT, "__asan_init") != nullptr) {
    return true;
  }
#ifdef UWSK_LIBASAN
  const char *runtime = UWSK_LIBASAN;
#else
  const char *runtime = nullptr;
#endif
  if (runtime == nullptr || access(runtime, R_OK) != 0) {
    std::fprintf(stderr,
                 "uwsk-run: --sanitize: the AddressSanitizer runtime %s is not installed (Debian: "
                 "libasan8)\n",
                 runtime != nullptr ? runtime : "(unknown to this build)");
    return false;
  }
  const char *preload = std::getenv("LD_PRELOAD");
  std::string value = runtime;
  if (preload != nullptr && *preload != '\0') {
    value += ":" + std::string(preload);
  }
  setenv("LD_PRELOAD", value.c_str(), 1);
  execv("/proc/self/exe", argv);
  std::fprintf(stderr, "uwsk-run: --sanitize: cannot run uwsk-run again: %s\n",
               std::strerror(errno));
  return false;
}

// --faults and --seed (each defaulting to its environment variable): installs the fault plan.
// False (after saying why) on a bad spec or seed.
bool configure_faults(std::string spec, std::string seed_text) {
  if (spec.empty()) {
    const char *environment = std::getenv("UWSK_FAULTS");
    spec = environment != nullptr ? environment : "";
  }
  if (seed_text.empty()) {
    const char *environment = std::getenv("UWSK_SEED");
    seed_text = environment != nullptr ? environment : "";
  }
  uint64_t seed = uwsk_faults_seed(); // the one libuwsk chose, when it read UWSK_FAULTS itself
  if (!seed_text.empty()) {
    errno = 0;
    char *end = nullptr;
    seed = std::strtoull(seed_text.c_str(), &end, 0);
    if (errno != 0 || end == seed_text.c_str() || *end != '\0' || seed_text[0] == '-') {
      std::fprintf(stderr, "uwsk-run: --seed: '%s' is not a number\n", seed_text.c_str());
      return false;
    }
  } else if (seed == 0) {
    seed = (static_cast<uint64_t>(time(nullptr)) << 20) ^ static_cast<uint64_t>(getpid());
  }
  char error[256];
  if (uwsk_faults_configure(spec.c_str(), seed, error, sizeof(error)) != 0) {
    std::fprintf(stderr, "uwsk-run: --faults: %s\n", error);
    return false;
  }
  return true;
}

} // namespace

int main(int argc, char **argv) {
  // Block the stop signals before any thread exists, so every thread inherits the mask and only
  // the wait below receives them.
  // A shell starts background jobs with SIGINT ignored, and an ignored signal is discarded even
  // when blocked, so restore the default first.
  signal(SIGINT, SIG_DFL);
  signal(SIGTERM, SIG_DFL);
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  CLI::App app{"uwsk-run: loads a Windows WSK driver built for uwsk, calls DriverEntry, runs it "
               "until SIGINT/SIGTERM or --unload-after, calls DriverUnload and reports leaks."};
  std::string driver_path;
  std::string service_name;
  std::string log_path;
  std::string expect_status_text;
  std::string engine_name;
  double unload_after = -1;
  double unload_timeout = 30;
  bool strict = false;
  std::vector<std::string> string_parameters;
  std::vector<std::string> dword_parameters;
  app.add_option("driver", driver_path,
                 "The driver shared object (built with uwsk_add_driver "
                 "or the uwsk-driver pkg-config flags)")
      ->required();
  app.add_option("--unload-after", unload_after,
                 "Unload the driver after SECONDS, 0 to 4294967 (default: run until SIGINT or "
                 "SIGTERM)")
      ->check(CLI::Range(0.0, max_seconds));
  app.add_option("--unload-timeout", unload_timeout,
                 "Seconds DriverUnload may take before uwsk-run gives up on it, more than 0 and "
                 "at most 4294967")
      ->check(CLI::PositiveNumber & CLI::Range(0.0, max_seconds))
      ->capture_default_str();
  app.add_option("--expect-status", expect_status_text,
                 "DriverEntry is expected to fail with this status (a name such as "
                 "STATUS_ACCESS_DENIED, or a number); exit 0 when it does");
  app.add_option("--service-name", service_name,
                 "Service name for \\Driver\\NAME and the registry path (default: the file name)");
  app.add_option("--log", log_path,
                 "Write DbgPrint output and uwsk messages to FILE instead of "
                 "standard error");
  app.add_option("--param", string_parameters,
                 "Store NAME=VALUE as a REG_SZ value under the driver's "
                 "Services\\NAME\\Parameters key before DriverEntry (repeatable)")
      ->type_name("NAME=VALUE")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--param-dword", dword_parameters,
                 "Store NAME=N (decimal or 0x hexadecimal) as a REG_DWORD value under the "
                 "Parameters key (repeatable)")
      ->type_name("NAME=N")
      ->expected(1)
      ->allow_extra_args(false)
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  app.add_option("--engine", engine_name,
                 "The I/O engine the event loops wait through: epoll, uring (io_uring) or auto "
                 "(uring when it works here, else epoll). Default: $UWSK_ENGINE, else auto")
      ->check(CLI::IsMember({"epoll", "uring", "auto"}));
  app.add_flag("--strict", strict, "Exit non-zero when the leak report is not empty");
  // Debugging options.
  std::string trace_path;
  app.add_option("--trace", trace_path,
                 "Record every WSK call, IRP completion and event callback in FILE: Chrome "
                 "trace events (Perfetto, chrome://tracing) when FILE ends in .json, else one "
                 "text line per record. Default: $UWSK_TRACE")
      ->type_name("FILE");
  bool sanitize = false;
  app.add_flag("--sanitize", sanitize,
               "Run with the AddressSanitizer runtime loaded first, for a driver built with "
               "-fsanitize=address,undefined (uwsk-run starts itself again with it in "
               "LD_PRELOAD)");
  // The verifier's mode (docs/verifier.md): strict makes warning rules stop as errors do; off
  // drops its bookkeeping, which the runtime reads from UWSK_VERIFY once, before the first IRP
  // or pool block (so it is set here, before any driver is loaded).
  app.add_option_function<std::string>(
         "--verify",
         [](const std::string &mode) {
           uwsk_verifier_set_strict(mode == "strict" ? 1 : 0);
           setenv("UWSK_VERIFY", mode.c_str(), 1);
         },
         "Verifier mode: normal (warning rules are logged), strict (they stop the driver "
         "with a bug check, as error rules do) or off (no lists of live IRPs and pool blocks, "
         "no IRP submission checks, no quarantine of closed "
         "sockets: "
         "for measuring what the "
         "verifier costs)")
      ->check(CLI::IsMember({"normal", "strict", "off"}));
  // Fault injection (docs/faults.md).
  std::string faults_spec;
  std::string seed_text;
  app.add_option("--faults", faults_spec,
                 "Inject the faults of SPEC, a comma list such as pend=all,delay=0-2ms "
                 "(docs/faults.md). Default: $UWSK_FAULTS")
      ->type_name("SPEC");
  app.add_option("--seed", seed_text,
                 "The seed of --faults (logged; the same seed replays the same faults). "
                 "Default: $UWSK_SEED, else random")
      ->type_name("N");
  app.set_version_flag("--version", std::string("uwsk-run ") + UWSK_VERSION_STRING,
                       "Print uwsk-run's version (uwsk's) and exit");
  app.footer(help_footer);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError &e) {
    const int code = app.exit(e);
    return code == 0 ? exit_ok : exit_usage;
  }

  if (sanitize && !start_sanitized(argv)) {
    return exit_usage;
  }

  NTSTATUS expected_status = STATUS_SUCCESS;
  const bool expect_failure = !expect_status_text.empty();
  if (expect_failure && !parse_status(expect_status_text, expected_status)) {
    std::fprintf(stderr, "uwsk-run: --expect-status: '%s' is neither a status name nor a number\n",
                 expect_status_text.c_str());
    return exit_usage;
  }
  if (!log_path.empty()) {
    const int opened = uwsk_log_open(log_path.c_str());
    if (opened != 0) {
      std::fprintf(stderr, "uwsk-run: cannot open log file %s: %s\n", log_path.c_str(),
                   std::strerror(-opened));
      return exit_usage;
    }
    g_log_to_file = log_path != "-";
  }

  if (!trace_path.empty()) {
    char trace_error[256];
    if (uwsk_trace_open(trace_path.c_str(), trace_error, sizeof(trace_error)) != 0) {
      std::fprintf(stderr, "uwsk-run: --trace: %s\n", trace_error);
      return exit_usage;
    }
  }

  // The engine is fixed before DriverEntry can create the first socket: --engine, else a valid
  // UWSK_ENGINE (an invalid one is logged by the runtime and means auto).
  std::string engine_source = "--engine";
  if (engine_name.empty()) {
    const char *environment = std::getenv("UWSK_ENGINE");
    const std::string from_environment = environment != nullptr ? environment : "";
    if (from_environment == "epoll" || from_environment == "uring" || from_environment == "auto") {
      engine_name = from_environment;
      engine_source = "UWSK_ENGINE=";
    }
  }
  if (!engine_name.empty()) {
    char engine_error[256];
    if (uwsk_set_engine(engine_name.c_str(), engine_error, sizeof(engine_error)) != 0) {
      const char *separator = engine_source == "--engine" ? " " : "";
      report_error(engine_source + separator + engine_name + ": " + engine_error);
      return exit_usage;
    }
  }
  const char *engine_in_use = uwsk_engine_name();
  uwsk_log_message("uwsk-run", "I/O engine: %s", engine_in_use != nullptr ? engine_in_use : "?");

  if ((!faults_spec.empty() || !seed_text.empty()) && !configure_faults(faults_spec, seed_text)) {
    return exit_usage;
  }

  if (!fill_service_key(service_name.empty() ? default_service_name(driver_path) : service_name,
                        driver_path, string_parameters, dword_parameters)) {
    return exit_usage;
  }

  char error[512];
  uwsk_driver *driver =
      uwsk_driver_load(driver_path.c_str(), service_name.c_str(), error, sizeof(error));
  if (driver == nullptr) {
    report_error(error);
    return exit_load_failed;
  }

  const NTSTATUS entry_status = uwsk_driver_start(driver);
  if (!NT_SUCCESS(entry_status) || expect_failure) {
    // A failed DriverEntry leaves the driver unloaded without DriverUnload, as on Windows.
    const bool as_expected = expect_failure && entry_status == expected_status;
    uwsk_log_message("uwsk-run", "DriverEntry returned %s%s%s", describe(entry_status).c_str(),
                     expect_failure ? (as_expected ? ", as expected" : ", expected ") : "",
                     expect_failure && !as_expected ? describe(expected_status).c_str() : "");
    if (!as_expected && g_log_to_file) {
      std::fprintf(stderr, "uwsk-run: DriverEntry returned %s\n", describe(entry_status).c_str());
    }
    const size_t leaks = uwsk_leak_report();
    uwsk_driver_release(driver);
    if (!as_expected) {
      return exit_entry_failed;
    }
    return strict && leaks != 0 ? exit_leaks : exit_ok;
  }
  uwsk_log_message("uwsk-run", "DriverEntry returned %s", describe(entry_status).c_str());

  wait_for_stop(stop_signals, unload_after);

  const auto timeout_ms = static_cast<unsigned>(unload_timeout * 1000);
  switch (uwsk_driver_unload(driver, timeout_ms)) {
  case UWSK_UNLOAD_DONE:
    uwsk_log_message("uwsk-run", "DriverUnload returned");
    break;
  case UWSK_UNLOAD_NO_ROUTINE:
    uwsk_log_message("uwsk-run", "the driver set no DriverUnload routine; it cannot be unloaded, "
                                 "so uwsk-run exits with the driver still loaded");
    break;
  case UWSK_UNLOAD_TIMED_OUT:
    char text[96];
    std::snprintf(text, sizeof(text), "DriverUnload did not return within %.1f s", unload_timeout);
    report_error(text);
    uwsk_leak_report();
    uwsk_trace_close();
    uwsk_log_close();
    std::_Exit(exit_unload_timeout);
  }
  const size_t leaks = uwsk_leak_report();
  uwsk_driver_release(driver);
  uwsk_log_close();
  return strict && leaks != 0 ? exit_leaks : exit_ok;
}
