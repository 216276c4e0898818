// Linked into the unit tests that ctest runs once per engine (tests/CMakeLists.txt). When
// UWSK_ENGINE asks for io_uring and this machine cannot provide it (an old kernel, the sysctl
// kernel.io_uring_disabled, a container's seccomp filter), the program prints the probe's
// reason and exits with 77, which ctest reports as a skip (SKIP_RETURN_CODE), instead of
// failing for a reason that is not the code's.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "net/backend.hpp"

namespace {

constexpr int skip_exit_code = 77;

class engine_environment : public ::testing::Environment {
public:
  void SetUp() override {
    const char *engine = std::getenv("UWSK_ENGINE");
    if (engine == nullptr || std::strcmp(engine, "uring") != 0) {
      return;
    }
    const uwsk::net::uring_support support = uwsk::net::probe_uring();
    if (!support.available) {
      std::printf("skipped: the io_uring engine is unavailable here: %s\n", support.reason.c_str());
      std::fflush(stdout);
      std::_Exit(skip_exit_code);
    }
  }
};

// gtest owns the environment from here on. It is set up only when tests run, not when they
// are listed for ctest.
[[maybe_unused]] const ::testing::Environment *const registered =
    ::testing::AddGlobalTestEnvironment(new engine_environment);

} // namespace
