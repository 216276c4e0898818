// The control: a host-layer file using the provider's interface builds.
#include "wsk/provider.hpp"

namespace {
[[maybe_unused]] bool started() {
  return uwsk::wsk::provider_engine_started();
}
} // namespace
