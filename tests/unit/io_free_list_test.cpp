// IRPs and MDLs come from per-thread free lists: freed memory is reused without malloc, the
// counts of the leak report stay exact when blocks cross threads, and the verifier still
// catches a second free of a cached block.
#include <gtest/gtest.h>

#include <thread>
#include <vector>

#include <wdm.h>

#include "nt/io/io_objects.hpp"

namespace {

TEST(IoFreeLists, AFreedIrpIsReusedForTheSameStackCount) {
  PIRP first = IoAllocateIrp(2, FALSE);
  ASSERT_NE(first, nullptr);
  IoFreeIrp(first);
  PIRP second = IoAllocateIrp(2, FALSE);
  EXPECT_EQ(second, first);
  // It comes back fully initialised, as a new IRP.
  EXPECT_EQ(second->Type, IO_TYPE_IRP);
  EXPECT_EQ(second->StackCount, 2);
  EXPECT_EQ(second->CurrentLocation, 3);
  EXPECT_EQ(second->Size, IoSizeOfIrp(2));
  EXPECT_EQ(second->MdlAddress, nullptr);
  PIRP other = IoAllocateIrp(3, FALSE); // another stack count, another list
  EXPECT_NE(other, first);
  IoFreeIrp(other);
  IoFreeIrp(second);
}

TEST(IoFreeLists, LargeIrpsAreAllocatedAndFreed) {
  PIRP irp = IoAllocateIrp(20, FALSE);
  ASSERT_NE(irp, nullptr);
  EXPECT_EQ(irp->StackCount, 20);
  IoFreeIrp(irp);
}

TEST(IoFreeLists, AFreedMdlIsReusedForTheSameSizeClass) {
  static unsigned char buffer[2 * PAGE_SIZE];
  PMDL first = IoAllocateMdl(buffer, 100, FALSE, FALSE, nullptr);
  ASSERT_NE(first, nullptr);
  IoFreeMdl(first);
  PMDL second = IoAllocateMdl(buffer + 10, 200, FALSE, FALSE, nullptr);
  EXPECT_EQ(second, first);
  EXPECT_EQ(MmGetMdlVirtualAddress(second), buffer + 10);
  EXPECT_EQ(MmGetMdlByteCount(second), 200u);
  EXPECT_EQ(second->Next, nullptr);
  IoFreeMdl(second);
  // A large MDL (over the cached classes) works as before.
  std::vector<unsigned char> large(512 * PAGE_SIZE);
  PMDL big = IoAllocateMdl(large.data(), static_cast<ULONG>(large.size()), FALSE, FALSE, nullptr);
  ASSERT_NE(big, nullptr);
  MmBuildMdlForNonPagedPool(big);
  EXPECT_EQ(MmGetSystemAddressForMdlSafe(big, NormalPagePriority), large.data());
  IoFreeMdl(big);
}

TEST(IoFreeLists, CountsStayExactWhenBlocksAreFreedOnOtherThreads) {
  const std::size_t irps_before = uwsk::nt::live_irps();
  const std::size_t mdls_before = uwsk::nt::live_mdls();
  static unsigned char buffer[64];
  std::vector<PIRP> irps;
  std::vector<PMDL> mdls;
  for (int i = 0; i < 200; ++i) {
    irps.push_back(IoAllocateIrp(1, FALSE));
    mdls.push_back(IoAllocateMdl(buffer, sizeof(buffer), FALSE, FALSE, nullptr));
  }
  EXPECT_EQ(uwsk::nt::live_irps(), irps_before + 200);
  EXPECT_EQ(uwsk::nt::live_mdls(), mdls_before + 200);
  std::thread other([&] {
    for (PIRP irp : irps) {
      IoFreeIrp(irp);
    }
    for (PMDL mdl : mdls) {
      IoFreeMdl(mdl);
    }
  });
  other.join();
  EXPECT_EQ(uwsk::nt::live_irps(), irps_before);
  EXPECT_EQ(uwsk::nt::live_mdls(), mdls_before);
  // What the other thread cached came back for this one at its exit.
  for (int i = 0; i < 200; ++i) {
    irps[i] = IoAllocateIrp(1, FALSE);
    ASSERT_NE(irps[i], nullptr);
  }
  for (PIRP irp : irps) {
    IoFreeIrp(irp);
  }
  EXPECT_EQ(uwsk::nt::live_irps(), irps_before);
}

using IoFreeListsDeathTest = ::testing::Test;

TEST(IoFreeListsDeathTest, FreeingACachedIrpAgainIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        PIRP irp = IoAllocateIrp(1, FALSE);
        IoFreeIrp(irp);
        IoFreeIrp(irp);
      },
      "rule V15 \\(error\\): IoFreeIrp was given an IRP that is freed");
}

TEST(IoFreeListsDeathTest, FreeingACachedMdlAgainIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        static unsigned char buffer[64];
        PMDL mdl = IoAllocateMdl(buffer, sizeof(buffer), FALSE, FALSE, nullptr);
        IoFreeMdl(mdl);
        IoFreeMdl(mdl);
      },
      "already freed");
}

#if defined(__SANITIZE_ADDRESS__)
// A cached IRP is poisoned beyond its Type and Size, so AddressSanitizer still reports a use
// after free.
TEST(IoFreeListsDeathTest, UsingACachedIrpIsReportedByAddressSanitizer) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        PIRP irp = IoAllocateIrp(1, FALSE);
        IoFreeIrp(irp);
        irp->IoStatus.Information = 1;
      },
      "use-after-poison");
}
#endif

} // namespace
