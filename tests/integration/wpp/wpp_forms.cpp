// The trace-function forms of wpp_forms.c, compiled as C++.
#include "wpp_forms.c"
