// Executive timers: one-shot and periodic expiry, cancel, delete with and without waiting.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include <wdm.h>

#include "support/timing.hpp"

namespace {

using uwsk::test::eventually;
using namespace std::chrono_literals;

constexpr LONGLONG ms = 10000; // 100 ns units

struct record {
  std::atomic<int> calls{0};
  std::atomic<int> irql{-1};
  std::atomic<PEX_TIMER> timer{nullptr};
  std::atomic<bool> started{false};
};

VOID NTAPI count_call(PEX_TIMER timer, PVOID context) {
  auto *r = static_cast<record *>(context);
  r->irql = KeGetCurrentIrql();
  r->timer = timer;
  ++r->calls;
}

VOID NTAPI slow_call(PEX_TIMER timer, PVOID context) {
  static_cast<record *>(context)->started = true;
  std::this_thread::sleep_for(50ms);
  count_call(timer, context);
}

VOID NTAPI note_deleted(PVOID context) {
  ++*static_cast<std::atomic<int> *>(context);
}

TEST(ExTimer, OneShotCallsBackOnceAtDispatchLevel) {
  record r;
  PEX_TIMER timer = ExAllocateTimer(count_call, &r, 0);
  ASSERT_NE(timer, nullptr);
  EXPECT_FALSE(ExSetTimer(timer, -10 * ms, 0, nullptr));
  ASSERT_TRUE(eventually([&] { return r.calls.load() == 1; }));
  EXPECT_EQ(r.irql, DISPATCH_LEVEL);
  EXPECT_EQ(r.timer, timer);
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(r.calls, 1);
  EXPECT_FALSE(ExCancelTimer(timer, nullptr)); // nothing pending any more
  std::atomic<int> deleted{0};
  EXT_DELETE_PARAMETERS parameters;
  ExInitializeDeleteTimerParameters(&parameters);
  parameters.DeleteCallback = note_deleted;
  parameters.DeleteContext = &deleted;
  EXPECT_FALSE(ExDeleteTimer(timer, TRUE, TRUE, &parameters));
  EXPECT_TRUE(eventually([&] { return deleted.load() == 1; }));
}

TEST(ExTimer, PeriodicRepeatsUntilCancelled) {
  record r;
  PEX_TIMER timer = ExAllocateTimer(count_call, &r, EX_TIMER_HIGH_RESOLUTION);
  ASSERT_NE(timer, nullptr);
  EXT_SET_PARAMETERS parameters;
  ExInitializeSetTimerParameters(&parameters);
  ExSetTimer(timer, -1 * ms, 5 * ms, &parameters);
  ASSERT_TRUE(eventually([&] { return r.calls.load() >= 3; }));
  EXPECT_TRUE(ExCancelTimer(timer, nullptr));
  std::this_thread::sleep_for(20ms); // a callback already started may still finish
  const int calls = r.calls;
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(r.calls, calls);
  EXPECT_FALSE(ExDeleteTimer(timer, TRUE, TRUE, nullptr));
}

TEST(ExTimer, SetAgainReplacesAndCancelStops) {
  record r;
  PEX_TIMER timer = ExAllocateTimer(count_call, &r, 0);
  ASSERT_NE(timer, nullptr);
  EXPECT_FALSE(ExSetTimer(timer, -10000 * ms, 0, nullptr));
  EXPECT_TRUE(ExSetTimer(timer, -10000 * ms, 0, nullptr));
  EXPECT_TRUE(ExCancelTimer(timer, nullptr));
  EXPECT_FALSE(ExCancelTimer(timer, nullptr));
  EXPECT_TRUE(ExSetTimer(timer, -10000 * ms, 0, nullptr) == FALSE);
  EXPECT_TRUE(ExDeleteTimer(timer, TRUE, FALSE, nullptr)); // cancelled the pending expiry
  std::this_thread::sleep_for(20ms);
  EXPECT_EQ(r.calls, 0);
}

TEST(ExTimer, DeleteWithoutCancelLetsAPendingExpiryRun) {
  record r;
  PEX_TIMER timer = ExAllocateTimer(count_call, &r, 0);
  ASSERT_NE(timer, nullptr);
  ExSetTimer(timer, -20 * ms, 0, nullptr);
  std::atomic<int> deleted{0};
  EXT_DELETE_PARAMETERS parameters;
  ExInitializeDeleteTimerParameters(&parameters);
  parameters.DeleteCallback = note_deleted;
  parameters.DeleteContext = &deleted;
  EXPECT_FALSE(ExDeleteTimer(timer, FALSE, FALSE, &parameters));
  ASSERT_TRUE(eventually([&] { return deleted.load() == 1; }));
  EXPECT_EQ(r.calls, 1); // the callback ran before the timer was freed
}

TEST(ExTimer, DeleteWaitsForARunningCallback) {
  record r;
  PEX_TIMER timer = ExAllocateTimer(slow_call, &r, 0);
  ASSERT_NE(timer, nullptr);
  ExSetTimer(timer, -1 * ms, 0, nullptr);
  ASSERT_TRUE(eventually([&] { return r.started.load(); })); // the callback is now sleeping
  ExDeleteTimer(timer, TRUE, TRUE, nullptr);
  EXPECT_EQ(r.calls, 1);
}

TEST(ExTimer, UnknownAttributesAreRefused) {
  EXPECT_EQ(ExAllocateTimer(count_call, nullptr, 0x1000), nullptr);
}

} // namespace
