// A provider file reaching up into the loader: the build must refuse it.
#include "host/shutdown.hpp"
