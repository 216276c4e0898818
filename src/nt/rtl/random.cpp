// RtlRandom / RtlRandomEx: a Lehmer-style linear congruential generator over 2^31 - 1, the
// caller's seed carrying the state; results lie in [0, MAXLONG - 1] as on Windows.
#include <wdm.h>

namespace {

constexpr ULONGLONG modulus = 0x7FFFFFFFull;    // 2^31 - 1
constexpr ULONGLONG multiplier = 0x7FFFFFEDull; // 2^31 - 19
constexpr ULONGLONG increment = 0x7FFFFFC3ull;  // 2^31 - 61

ULONG step(PULONG seed) {
  ULONG next = static_cast<ULONG>((multiplier * *seed + increment) % modulus);
  *seed = next;
  return next;
}

} // namespace

// RtlRandomEx: the next pseudo-random number of the sequence *Seed carries.
extern "C" ULONG NTAPI RtlRandomEx(PULONG Seed) {
  return step(Seed);
}

// RtlRandom: RtlRandomEx with an extra mixing step (two draws combined), as its older
// shuffled sequence was.
extern "C" ULONG NTAPI RtlRandom(PULONG Seed) {
  ULONG a = step(Seed);
  ULONG b = step(Seed);
  return static_cast<ULONG>((static_cast<ULONGLONG>(a) * 16807u + b) % modulus);
}
