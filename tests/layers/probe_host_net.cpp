// A host-layer file reaching for the I/O engine: the build must refuse it (host talks to the
// provider, never to net).
#include "net/engine.hpp"
