// The log sink and debug output: prefixed lines, per-thread line assembly, DbgPrintEx
// filtering, breakpoints, assertions and bug checks.
#include <gtest/gtest.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <unistd.h>
#include <vector>

#include <uwsk/log.h>
#include <wdm.h>

#include "nt/dbg/log.hpp"

namespace {

// Sends the log to a fresh file for one test and reads it back.
class LogFile : public ::testing::Test {
protected:
  void SetUp() override {
    char name[] = "/tmp/uwsk-dbg-log-XXXXXX";
    int fd = mkstemp(name);
    ASSERT_GE(fd, 0);
    close(fd);
    path_ = name;
    ASSERT_EQ(uwsk_log_open(path_.c_str()), 0);
  }
  void TearDown() override {
    uwsk_log_close();
    unlink(path_.c_str());
  }
  // Every line of the log, with the "[  s.us] thread " prefix checked and removed.
  std::vector<std::string> bodies(std::vector<std::string> *threads = nullptr) {
    uwsk_log_close();
    std::ifstream in(path_);
    std::vector<std::string> out;
    std::string line;
    static const std::regex prefix(R"(^\[ *\d+\.\d{6}\] (\S+) (.*)$)");
    while (std::getline(in, line)) {
      std::smatch m;
      EXPECT_TRUE(std::regex_match(line, m, prefix)) << "unprefixed line: " << line;
      if (m.size() == 3) {
        out.push_back(m[2]);
        if (threads != nullptr) {
          threads->push_back(m[1]);
        }
      }
    }
    EXPECT_EQ(uwsk_log_open(path_.c_str()), 0);
    return out;
  }
  std::string path_;
};

TEST_F(LogFile, DbgPrintWritesPrefixedLines) {
  EXPECT_EQ(DbgPrint("hello %d\n", 5), static_cast<ULONG>(STATUS_SUCCESS));
  std::vector<std::string> threads;
  auto lines = bodies(&threads);
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "hello 5");
  EXPECT_TRUE(std::regex_match(threads[0], std::regex(R"(T\d+)"))) << threads[0];
}

// The prefix keeps printf's layout: the seconds right-aligned in at least four columns, six
// digits of microseconds.
TEST_F(LogFile, PrefixHasFourColumnsOfSecondsAndSixOfMicroseconds) {
  DbgPrint("layout\n");
  uwsk_log_close();
  std::ifstream in(path_);
  std::string line;
  ASSERT_TRUE(std::getline(in, line));
  EXPECT_TRUE(std::regex_match(
      line, std::regex(R"(^\[( {3}\d| {2}\d{2}| \d{3}|\d{4,})\.\d{6}\] T\d+ layout$)")))
      << line;
  EXPECT_EQ(uwsk_log_open(path_.c_str()), 0);
}

// A line longer than DbgPrint's buffer on the stack (512 bytes) comes out whole, in order.
TEST_F(LogFile, LongLinesComeOutWhole) {
  std::string long_text;
  for (int i = 0; long_text.size() < 3000; ++i) {
    long_text += std::to_string(i) + ",";
  }
  DbgPrint("%s|%d|%s\n", long_text.c_str(), 42, "end");
  auto lines = bodies();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], long_text + "|42|end");
}

TEST_F(LogFile, DbgPrintWideStringsWithWidthAndPrecision) {
  UNICODE_STRING us = RTL_CONSTANT_STRING(u"counted\u00e9");
  DbgPrint("[%-9wZ][%6ws][%.2ls][%*.*ws]\n", &us, u"\u00e9t\u00e9", u"xyz", 4, 1, u"\u20acuro");
  auto lines = bodies();
  ASSERT_EQ(lines.size(), 1u);
  // Wide text becomes UTF-8; widths and precisions count characters of the argument.
  EXPECT_EQ(lines[0], "[counted\xC3\xA9 ][   \xC3\xA9t\xC3\xA9][xy][   \xE2\x82\xAC]");
}

TEST_F(LogFile, OpenFailsWithErrno) {
  EXPECT_EQ(uwsk_log_open("/nonexistent-dir/x/y.log"), -ENOENT);
  // The sink is unchanged: this still lands in the file.
  DbgPrint("still here\n");
  auto lines = bodies();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "still here");
}

TEST_F(LogFile, PartialLinesAreJoined) {
  DbgPrint("part1 ");
  DbgPrint("part2 ");
  DbgPrint("end\n");
  auto lines = bodies();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "part1 part2 end");
}

TEST_F(LogFile, SeveralLinesInOneCall) {
  DbgPrint("a\nb\nc");
  DbgPrint("d\n");
  auto lines = bodies();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "a");
  EXPECT_EQ(lines[1], "b");
  EXPECT_EQ(lines[2], "cd");
}

TEST_F(LogFile, CarriageReturnsBeforeNewlinesAreDropped) {
  DbgPrint("windows style\r\n");
  auto lines = bodies();
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "windows style");
}

TEST_F(LogFile, RuntimeMessageFlushesAHeldFragment) {
  DbgPrint("dangling");
  uwsk_log_message("uwsk-run", "value=%d", 3);
  uwsk_log_message(nullptr, "no component\n");
  auto lines = bodies();
  ASSERT_EQ(lines.size(), 3u);
  EXPECT_EQ(lines[0], "dangling");
  EXPECT_EQ(lines[1], "uwsk-run: value=3");
  EXPECT_EQ(lines[2], "no component");
}

TEST_F(LogFile, CloseFlushesHeldFragments) {
  DbgPrint("unfinished");
  auto lines = bodies(); // closes the log
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_EQ(lines[0], "unfinished");
}

TEST_F(LogFile, ThreadExitFlushesItsFragment) {
  std::thread t([] { DbgPrint("from a thread that ends"); });
  t.join();
  DbgPrint("main\n");
  auto lines = bodies();
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(lines[0], "from a thread that ends");
  EXPECT_EQ(lines[1], "main");
}

TEST_F(LogFile, ThreadNamesReplaceTheTid) {
  std::thread t([] {
    uwsk_log_set_thread_name("worker-1");
    DbgPrint("named\n");
    uwsk_log_set_thread_name(nullptr);
    DbgPrint("unnamed\n");
  });
  t.join();
  std::vector<std::string> threads;
  auto lines = bodies(&threads);
  ASSERT_EQ(lines.size(), 2u);
  EXPECT_EQ(threads[0], "worker-1");
  EXPECT_TRUE(std::regex_match(threads[1], std::regex(R"(T\d+)")));
}

TEST_F(LogFile, LinesFromTwoThreadsAreNotInterleaved) {
  constexpr int kLines = 300;
  auto writer = [](char id) {
    for (int i = 0; i < kLines; ++i) {
      DbgPrint("%c-%d ", id, i);
      DbgPrint("%c-middle ", id);
      DbgPrint("%c-end\n", id);
    }
  };
  std::thread a(writer, 'A');
  std::thread b(writer, 'B');
  a.join();
  b.join();
  auto lines = bodies();
  ASSERT_EQ(lines.size(), static_cast<size_t>(2 * kLines));
  int next[2] = {0, 0};
  for (const auto &line : lines) {
    ASSERT_FALSE(line.empty());
    char id = line[0];
    ASSERT_TRUE(id == 'A' || id == 'B') << line;
    int &n = next[id - 'A'];
    std::ostringstream expected;
    expected << id << '-' << n << ' ' << id << "-middle " << id << "-end";
    EXPECT_EQ(line, expected.str());
    ++n;
  }
  EXPECT_EQ(next[0], kLines);
  EXPECT_EQ(next[1], kLines);
}

// The file's text as it is now, without closing the log.
std::string file_text(const std::string &path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Log batching (log.cpp): a batching thread's DbgPrint lines reach the file only when the batch
// is written, all at once and in order, with the prefixes they were made with.
TEST_F(LogFile, BatchedLinesWaitForTheFlushAndKeepTheirOrder) {
  std::thread loop_like([] {
    uwsk::nt::log_batch_lines(true);
    DbgPrint("batched %d\n", 1);
    DbgPrint("batched %d\n", 2);
    DbgPrint("part ");
    DbgPrint("of three\n");
    uwsk::nt::log_flush_batch();
    uwsk::nt::log_batch_lines(false);
  });
  loop_like.join();
  auto lines = bodies();
  EXPECT_EQ(lines, (std::vector<std::string>{"batched 1", "batched 2", "part of three"}));
}

TEST_F(LogFile, BatchedLinesAreNotInTheFileBeforeTheFlush) {
  std::string before;
  std::string after;
  std::thread loop_like([&] {
    uwsk::nt::log_batch_lines(true);
    DbgPrint("held until the flush\n");
    before = file_text(path_);
    uwsk::nt::log_flush_batch();
    after = file_text(path_);
    uwsk::nt::log_batch_lines(false);
  });
  loop_like.join();
  EXPECT_EQ(before.find("held until the flush"), std::string::npos) << before;
  EXPECT_NE(after.find("held until the flush"), std::string::npos) << after;
}

// Another thread's line, and a runtime message of the batching thread itself (never held: a
// verifier report must not wait), write the batch first: the file keeps the order lines were
// made in.
TEST_F(LogFile, OtherWritersWriteTheBatchFirst) {
  std::thread loop_like([] {
    uwsk::nt::log_batch_lines(true);
    DbgPrint("first, batched\n");
    std::thread other([] { DbgPrint("second, from another thread\n"); });
    other.join();
    DbgPrint("third, batched\n");
    uwsk_log_message("test", "fourth, a runtime message");
    DbgPrint("fifth, batched\n");
    uwsk::nt::log_flush_batch();
    uwsk::nt::log_batch_lines(false);
  });
  loop_like.join();
  auto lines = bodies();
  EXPECT_EQ(lines, (std::vector<std::string>{"first, batched", "second, from another thread",
                                             "third, batched", "test: fourth, a runtime message",
                                             "fifth, batched"}));
}

// Closing the log writes the batch (as process exit does, through the same path).
TEST_F(LogFile, CloseWritesTheBatch) {
  std::thread loop_like([] {
    uwsk::nt::log_batch_lines(true);
    DbgPrint("batched before the close\n");
    uwsk::nt::log_batch_lines(false); // never flushed by this thread
  });
  loop_like.join();
  EXPECT_EQ(bodies(), (std::vector<std::string>{"batched before the close"}));
}

// A batch that grows past its limit (32 KiB) is written without waiting for the flush.
TEST_F(LogFile, ALargeBatchIsWrittenWithoutAFlush) {
  std::string seen;
  std::thread loop_like([&] {
    uwsk::nt::log_batch_lines(true);
    const std::string filler(200, 'x');
    for (int i = 0; i < 200; ++i) { // about 45 KiB with the prefixes
      DbgPrint("%d %s\n", i, filler.c_str());
    }
    seen = file_text(path_);
    uwsk::nt::log_flush_batch();
    uwsk::nt::log_batch_lines(false);
  });
  loop_like.join();
  EXPECT_NE(seen.find("0 xxx"), std::string::npos);
  EXPECT_GE(seen.size(), 32u * 1024);
  auto lines = bodies();
  ASSERT_EQ(lines.size(), 200u);
  for (int i = 0; i < 200; ++i) {
    EXPECT_EQ(lines[static_cast<size_t>(i)], std::to_string(i) + " " + std::string(200, 'x'));
  }
}

TEST_F(LogFile, DbgPrintExFiltersByLevel) {
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "error\n");
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_WARNING_LEVEL, "warning\n");
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_TRACE_LEVEL, "trace\n");
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "info\n");
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, 4, "level4\n");
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_MASK | 0x10, "mask bit 4\n");
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_MASK | 0x2, "mask bit 1\n");
  auto lines = bodies();
  std::vector<std::string> expected = {"error", "warning", "trace", "info", "mask bit 1"};
  EXPECT_EQ(lines, expected);

  EXPECT_EQ(DbgQueryDebugFilterState(DPFLTR_IHVDRIVER_ID, 4), FALSE);
  EXPECT_EQ(DbgSetDebugFilterState(DPFLTR_IHVDRIVER_ID, 4, TRUE), STATUS_SUCCESS);
  EXPECT_EQ(DbgQueryDebugFilterState(DPFLTR_IHVDRIVER_ID, 4), TRUE);
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, 4, "level4 now\n");
  EXPECT_EQ(DbgSetDebugFilterState(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, FALSE), STATUS_SUCCESS);
  DbgPrintEx(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, "error hidden\n");
  DbgPrintEx(DPFLTR_IHVNETWORK_ID, DPFLTR_ERROR_LEVEL, "other component\n");
  EXPECT_EQ(DbgSetDebugFilterState(DPFLTR_IHVDRIVER_ID, DPFLTR_ERROR_LEVEL, TRUE), STATUS_SUCCESS);
  EXPECT_EQ(DbgSetDebugFilterState(DPFLTR_IHVDRIVER_ID, 4, FALSE), STATUS_SUCCESS);
  EXPECT_EQ(DbgQueryDebugFilterState(DPFLTR_ENDOFTABLE_ID + 5, 0), STATUS_INVALID_PARAMETER_1);
  EXPECT_EQ(DbgSetDebugFilterState(DPFLTR_ENDOFTABLE_ID + 5, 0, TRUE), STATUS_INVALID_PARAMETER_1);
  lines = bodies();
  expected.push_back("level4 now");
  expected.push_back("other component");
  EXPECT_EQ(lines, expected);
}

ULONG print_with_prefix(const char *prefix, ULONG level, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  ULONG r = vDbgPrintExWithPrefix(prefix, DPFLTR_IHVDRIVER_ID, level, format, ap);
  va_end(ap);
  return r;
}

ULONG print_v(ULONG level, const char *format, ...) {
  va_list ap;
  va_start(ap, format);
  ULONG r = vDbgPrintEx(DPFLTR_IHVDRIVER_ID, level, format, ap);
  va_end(ap);
  return r;
}

TEST_F(LogFile, VariadicFormsAndKdPrint) {
  EXPECT_EQ(print_with_prefix("mydrv: ", DPFLTR_ERROR_LEVEL, "x=%ld %ws\n", 0xFFFFFFFFu, u"w"),
            static_cast<ULONG>(STATUS_SUCCESS));
  print_v(DPFLTR_WARNING_LEVEL, "v %I64d\n", static_cast<LONGLONG>(-1));
  print_v(9, "filtered\n");
  KdPrint(("kd %s\n", "print"));
  KdPrintEx((DPFLTR_IHVDRIVER_ID, DPFLTR_INFO_LEVEL, "kdex %d\n", 2));
  auto lines = bodies();
  std::vector<std::string> expected = {"mydrv: x=-1 w", "v -1", "kd print", "kdex 2"};
  EXPECT_EQ(lines, expected);
}

TEST_F(LogFile, BreakPointLogsAndContinues) {
  unsetenv("UWSK_BREAK");
  DbgBreakPoint();
  DbgBreakPointWithStatus(DBG_STATUS_CONTROL_C);
  KdBreakPoint();
  DbgPrint("after\n");
  auto lines = bodies();
  int breaks = 0;
  for (const auto &l : lines) {
    if (l.find("Break instruction exception") != std::string::npos) {
      ++breaks;
    }
  }
  EXPECT_EQ(breaks, 3);
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(lines.back(), "after");
}

TEST_F(LogFile, AssertionCanBeSetToLogOnly) {
  setenv("UWSK_ASSERT", "log", 1);
  int evaluated = 0;
  ASSERT(++evaluated == 2);
  NT_ASSERTMSG("custom message", evaluated == 5);
  EXPECT_FALSE(NT_VERIFY(evaluated == 3));
  EXPECT_TRUE(NT_VERIFY(evaluated == 1));
  unsetenv("UWSK_ASSERT");
  EXPECT_EQ(evaluated, 1);
  auto lines = bodies();
  std::string all;
  for (const auto &l : lines) {
    all += l + "\n";
  }
  EXPECT_NE(all.find("*** Assertion failed: ++evaluated == 2"), std::string::npos) << all;
  EXPECT_NE(all.find("***   Source File: "), std::string::npos);
  EXPECT_NE(all.find("custom message evaluated == 5"), std::string::npos);
  EXPECT_NE(all.find("evaluated == 3"), std::string::npos);
}

TEST(DbgAssert, PassingAssertionsAreSilent) {
  ASSERT(1 + 1 == 2);
  NT_ASSERT(true);
  ASSERTMSG("fine", 2 > 1);
  PAGED_CODE();
  EXPECT_TRUE(NT_VERIFY(3 == 3));
}

TEST(DbgDeath, FailedAssertionBugChecks) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  unsetenv("UWSK_ASSERT");
  unsetenv("UWSK_BREAK");
  EXPECT_DEATH(ASSERT(1 == 2), "Assertion failed: 1 == 2(.|\n)*KMODE_EXCEPTION_NOT_HANDLED");
}

TEST(DbgDeath, PagedCodeAtDispatchLevelIsCaught) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  unsetenv("UWSK_ASSERT");
  EXPECT_DEATH(
      {
        KIRQL old = KeRaiseIrqlToDpcLevel();
        PAGED_CODE();
        KeLowerIrql(old);
      },
      "Pageable code called at IRQL 2");
}

TEST(DbgDeath, KeBugCheckExPrintsAReportAndAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_EXIT(KeBugCheckEx(DRIVER_IRQL_NOT_LESS_OR_EQUAL, 0x1234, 2, 0, 0xFFFF),
              ::testing::KilledBySignal(SIGABRT),
              "BUGCHECK 0x000000D1: DRIVER_IRQL_NOT_LESS_OR_EQUAL(.|\n)*"
              "0x0000000000001234, 0x0000000000000002, 0x0000000000000000, "
              "0x000000000000FFFF(.|\n)*Thread: T[0-9]+(.|\n)*Stack:");
}

TEST(DbgDeath, BugCheckNamesAndUnknownCodes) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(KeBugCheck(MULTIPLE_IRP_COMPLETE_REQUESTS),
               "0x00000044: MULTIPLE_IRP_COMPLETE_REQUESTS");
  EXPECT_DEATH(KeBugCheck(BAD_POOL_CALLER), "BAD_POOL_CALLER");
  EXPECT_DEATH(KeBugCheck(MANUALLY_INITIATED_CRASH), "MANUALLY_INITIATED_CRASH");
  EXPECT_DEATH(KeBugCheck(0x12345), "0x00012345: UNKNOWN_BUGCHECK_CODE");
}

TEST(DbgDeath, BugCheckReportReachesStderrWhenLoggingToAFile) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        uwsk_log_open("/tmp/uwsk-dbg-log-bugcheck.log");
        KeBugCheckEx(NO_MORE_IRP_STACK_LOCATIONS, 0, 0, 0, 0);
      },
      "NO_MORE_IRP_STACK_LOCATIONS");
  unlink("/tmp/uwsk-dbg-log-bugcheck.log");
}

TEST(DbgDeath, CorruptListEntryFailsFast) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  LIST_ENTRY head;
  LIST_ENTRY a;
  LIST_ENTRY b;
  InitializeListHead(&head);
  InsertTailList(&head, &a);
  InsertTailList(&head, &b);
  a.Flink = &a; // corrupt
  EXPECT_DEATH(RemoveEntryList(&b), "KERNEL_SECURITY_CHECK_FAILURE");
}

TEST(DbgDebugger, FlagsAreConsistent) {
  BOOLEAN not_present = KdRefreshDebuggerNotPresent();
  EXPECT_EQ(not_present, KD_DEBUGGER_NOT_PRESENT);
  EXPECT_NE(KD_DEBUGGER_NOT_PRESENT, KD_DEBUGGER_ENABLED);
}

} // namespace
