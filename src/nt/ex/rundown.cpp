// Rundown protection (EX_RUNDOWN_REF): cheap references that stop being granted once a
// rundown starts, and a wait for the outstanding ones.
//
// Count holds references x 2 (EX_RUNDOWN_COUNT_INC). ExWaitForRundownProtectionRelease sets
// bit 0 (EX_RUNDOWN_ACTIVE): from then on acquires fail. If references are outstanding, the
// rest of the word points to a wait block on the waiter's stack holding their number and an
// event; each release then counts down the block and the last one sets the event. When the
// wait returns, Count is EX_RUNDOWN_ACTIVE (the block is gone). Only one thread may wait.
#include <wdm.h>

#include <cstdio>

#include "nt/bugcheck.hpp"
#include "nt/ke/violations.hpp"

using namespace uwsk::nt;

namespace {

struct rundown_wait_block {
  LONG64 references;
  KEVENT released;
};

ULONG_PTR load(PEX_RUNDOWN_REF ref) {
  return __atomic_load_n(&ref->Count, __ATOMIC_ACQUIRE);
}

bool acquire(PEX_RUNDOWN_REF ref, ULONG count) {
  ULONG_PTR value = load(ref);
  for (;;) {
    if ((value & EX_RUNDOWN_ACTIVE) != 0) {
      return false;
    }
    if (__atomic_compare_exchange_n(&ref->Count, &value,
                                    value + static_cast<ULONG_PTR>(count) * EX_RUNDOWN_COUNT_INC,
                                    true, __ATOMIC_ACQUIRE, __ATOMIC_ACQUIRE)) {
      return true;
    }
  }
}

void release(PEX_RUNDOWN_REF ref, ULONG count, const void *caller) {
  ULONG_PTR delta = static_cast<ULONG_PTR>(count) * EX_RUNDOWN_COUNT_INC;
  ULONG_PTR value = load(ref);
  for (;;) {
    if ((value & EX_RUNDOWN_ACTIVE) != 0) {
      break;
    }
    if (value < delta) {
      char reason[160];
      std::snprintf(reason, sizeof reason,
                    "ExReleaseRundownProtection(%p): more releases than acquires",
                    static_cast<void *>(ref));
      bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, reason, ke_violation::rundown_release_unacquired,
               reinterpret_cast<ULONG_PTR>(ref), value, reinterpret_cast<ULONG_PTR>(caller));
    }
    if (__atomic_compare_exchange_n(&ref->Count, &value, value - delta, true, __ATOMIC_RELEASE,
                                    __ATOMIC_ACQUIRE)) {
      return;
    }
  }
  auto *block =
      reinterpret_cast<rundown_wait_block *>(value & ~static_cast<ULONG_PTR>(EX_RUNDOWN_ACTIVE));
  if (block == nullptr) {
    char reason[160];
    std::snprintf(reason, sizeof reason,
                  "ExReleaseRundownProtection(%p): released after the rundown completed",
                  static_cast<void *>(ref));
    bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, reason, ke_violation::rundown_release_unacquired,
             reinterpret_cast<ULONG_PTR>(ref), value, reinterpret_cast<ULONG_PTR>(caller));
  }
  if (__atomic_sub_fetch(&block->references, static_cast<LONG64>(count), __ATOMIC_ACQ_REL) == 0) {
    KeSetEvent(&block->released, IO_NO_INCREMENT, FALSE);
  }
}

} // namespace

// ExInitializeRundownProtection: no references, no rundown.
extern "C" VOID FASTCALL ExInitializeRundownProtection(PEX_RUNDOWN_REF RunRef) {
  __atomic_store_n(&RunRef->Count, 0, __ATOMIC_RELEASE);
}

// ExReInitializeRundownProtection: makes a run-down reference usable again.
extern "C" VOID FASTCALL ExReInitializeRundownProtection(PEX_RUNDOWN_REF RunRef) {
  __atomic_store_n(&RunRef->Count, 0, __ATOMIC_RELEASE);
}

// ExAcquireRundownProtection: takes a reference unless a rundown has started (FALSE then).
extern "C" BOOLEAN FASTCALL ExAcquireRundownProtection(PEX_RUNDOWN_REF RunRef) {
  return acquire(RunRef, 1) ? TRUE : FALSE;
}

// ExAcquireRundownProtectionEx: takes Count references at once.
extern "C" BOOLEAN FASTCALL ExAcquireRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count) {
  return acquire(RunRef, Count) ? TRUE : FALSE;
}

// ExReleaseRundownProtection: drops a reference (waking a rundown waiter with the last one).
extern "C" VOID FASTCALL ExReleaseRundownProtection(PEX_RUNDOWN_REF RunRef) {
  release(RunRef, 1, __builtin_return_address(0));
}

// ExReleaseRundownProtectionEx: drops Count references.
extern "C" VOID FASTCALL ExReleaseRundownProtectionEx(PEX_RUNDOWN_REF RunRef, ULONG Count) {
  release(RunRef, Count, __builtin_return_address(0));
}

// ExWaitForRundownProtectionRelease: stops new references and waits until every outstanding
// one is released (PASSIVE or APC level).
extern "C" VOID FASTCALL ExWaitForRundownProtectionRelease(PEX_RUNDOWN_REF RunRef) {
  rundown_wait_block block;
  ULONG_PTR value = load(RunRef);
  for (;;) {
    if (value == EX_RUNDOWN_ACTIVE) {
      return; // already run down
    }
    if ((value & EX_RUNDOWN_ACTIVE) != 0) {
      // Another thread is waiting (not supported by Windows either): wait for it to finish.
      LARGE_INTEGER interval;
      interval.QuadPart = -10000; // 1 ms
      KeDelayExecutionThread(KernelMode, FALSE, &interval);
      value = load(RunRef);
      continue;
    }
    if (value == 0) {
      if (__atomic_compare_exchange_n(&RunRef->Count, &value, EX_RUNDOWN_ACTIVE, true,
                                      __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        return;
      }
      continue;
    }
    block.references = static_cast<LONG64>(value / EX_RUNDOWN_COUNT_INC);
    KeInitializeEvent(&block.released, NotificationEvent, FALSE);
    if (__atomic_compare_exchange_n(&RunRef->Count, &value,
                                    reinterpret_cast<ULONG_PTR>(&block) | EX_RUNDOWN_ACTIVE, true,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
      break;
    }
  }
  KeWaitForSingleObject(&block.released, Executive, KernelMode, FALSE, nullptr);
  __atomic_store_n(&RunRef->Count, EX_RUNDOWN_ACTIVE, __ATOMIC_RELEASE);
}

// ExRundownCompleted: records that the run-down object is gone (Count = EX_RUNDOWN_ACTIVE).
extern "C" VOID FASTCALL ExRundownCompleted(PEX_RUNDOWN_REF RunRef) {
  __atomic_store_n(&RunRef->Count, EX_RUNDOWN_ACTIVE, __ATOMIC_RELEASE);
}
