// A net-layer file reaching for the kernel emulation: the build must refuse it (net depends on
// nothing above it; it reports through the sink it is given).
#include "nt/ke/irql.hpp"
