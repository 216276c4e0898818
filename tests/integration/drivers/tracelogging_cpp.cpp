// The TraceLogging driver built as C++ (TraceLoggingValue through overloads, not _Generic).
#include "tracelogging.c"
