// MDLs: allocation (and chaining onto IRPs), building, locking, mapping, partial MDLs, and the
// misuse that Windows answers with a bugcheck.
#include <gtest/gtest.h>

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include <wdm.h>

namespace {

TEST(Mdl, SizeOfMdlCountsSpannedPages) {
  auto *base = reinterpret_cast<PVOID>(0x10000ff0);
  EXPECT_EQ(MmSizeOfMdl(base, 0x10), sizeof(MDL) + 1 * sizeof(PFN_NUMBER));
  EXPECT_EQ(MmSizeOfMdl(base, 0x11), sizeof(MDL) + 2 * sizeof(PFN_NUMBER));
  EXPECT_EQ(MmSizeOfMdl(base, 0x2000), sizeof(MDL) + 3 * sizeof(PFN_NUMBER));
}

TEST(Mdl, AllocateDescribesTheBuffer) {
  alignas(4096) static unsigned char buffer[3 * PAGE_SIZE];
  PMDL mdl = IoAllocateMdl(buffer + 100, 5000, FALSE, FALSE, nullptr);
  ASSERT_NE(mdl, nullptr);
  EXPECT_EQ(mdl->Next, nullptr);
  EXPECT_EQ(MmGetMdlVirtualAddress(mdl), buffer + 100);
  EXPECT_EQ(MmGetMdlByteCount(mdl), 5000u);
  EXPECT_EQ(MmGetMdlByteOffset(mdl), 100u);
  EXPECT_EQ(MmGetMdlBaseVa(mdl), buffer);
  EXPECT_EQ(mdl->MdlFlags & (MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA), 0);
  IoFreeMdl(mdl);
}

TEST(Mdl, AllocateAttachesPrimaryAndChainsSecondaryBuffers) {
  static unsigned char a[64], b[64], c[64];
  PIRP irp = IoAllocateIrp(1, FALSE);
  PMDL first = IoAllocateMdl(a, sizeof(a), FALSE, FALSE, irp);
  PMDL second = IoAllocateMdl(b, sizeof(b), TRUE, FALSE, irp);
  PMDL third = IoAllocateMdl(c, sizeof(c), TRUE, FALSE, irp);
  EXPECT_EQ(irp->MdlAddress, first);
  EXPECT_EQ(first->Next, second);
  EXPECT_EQ(second->Next, third);
  EXPECT_EQ(third->Next, nullptr);
  // A secondary buffer needs an IRP; too long a buffer cannot be described.
  EXPECT_EQ(IoAllocateMdl(a, sizeof(a), TRUE, FALSE, nullptr), nullptr);
  EXPECT_EQ(IoAllocateMdl(a, 0xFFFFFFFFu, FALSE, FALSE, nullptr), nullptr);
  // IoFreeIrp does not free MDLs.
  IoFreeIrp(irp);
  IoFreeMdl(third);
  IoFreeMdl(second);
  IoFreeMdl(first);
}

TEST(Mdl, NonPagedPoolMdlIsMappedAtOnce) {
  auto *buffer = static_cast<PUCHAR>(ExAllocatePool2(POOL_FLAG_NON_PAGED, 3000, 'tsTM'));
  PMDL mdl = IoAllocateMdl(buffer, 3000, FALSE, FALSE, nullptr);
  MmBuildMdlForNonPagedPool(mdl);
  EXPECT_NE(mdl->MdlFlags & MDL_SOURCE_IS_NONPAGED_POOL, 0);
  EXPECT_EQ(MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority), buffer);
  const PPFN_NUMBER pages = MmGetMdlPfnArray(mdl);
  EXPECT_EQ(pages[0], reinterpret_cast<ULONG_PTR>(buffer) >> PAGE_SHIFT);
  IoFreeMdl(mdl);
  ExFreePoolWithTag(buffer, 'tsTM');
}

TEST(Mdl, ProbeLockMapUnlock) {
  std::vector<unsigned char> memory(10000, 0x11);
  PMDL mdl = IoAllocateMdl(memory.data() + 3, 9000, FALSE, FALSE, nullptr);
  MmProbeAndLockPages(mdl, KernelMode, IoWriteAccess);
  EXPECT_NE(mdl->MdlFlags & MDL_PAGES_LOCKED, 0);
  EXPECT_NE(mdl->MdlFlags & MDL_WRITE_OPERATION, 0);
  auto *mapped = static_cast<PUCHAR>(
      MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority | MdlMappingNoExecute));
  ASSERT_EQ(mapped, memory.data() + 3);
  EXPECT_NE(mdl->MdlFlags & MDL_MAPPED_TO_SYSTEM_VA, 0);
  mapped[0] = 0x22;
  EXPECT_EQ(memory[3], 0x22);
  MmUnlockPages(mdl);
  EXPECT_EQ(mdl->MdlFlags & (MDL_PAGES_LOCKED | MDL_MAPPED_TO_SYSTEM_VA), 0);
  IoFreeMdl(mdl);
}

TEST(Mdl, PartialMdlDescribesASubrange) {
  auto *buffer = static_cast<PUCHAR>(ExAllocatePool2(POOL_FLAG_NON_PAGED, 8192, 'tsTM'));
  PMDL source = IoAllocateMdl(buffer, 8192, FALSE, FALSE, nullptr);
  MmBuildMdlForNonPagedPool(source);
  PMDL partial = IoAllocateMdl(buffer, 8192, FALSE, FALSE, nullptr);
  IoBuildPartialMdl(source, partial, buffer + 5000, 100);
  EXPECT_NE(partial->MdlFlags & MDL_PARTIAL, 0);
  EXPECT_EQ(MmGetMdlVirtualAddress(partial), buffer + 5000);
  EXPECT_EQ(MmGetMdlByteCount(partial), 100u);
  EXPECT_EQ(MmGetSystemAddressForMdlSafe(partial, NormalPagePriority), buffer + 5000);
  // Length 0 means "to the end of the source".
  MmPrepareMdlForReuse(partial);
  IoBuildPartialMdl(source, partial, buffer + 8000, 0);
  EXPECT_EQ(MmGetMdlByteCount(partial), 192u);
  IoFreeMdl(partial);
  IoFreeMdl(source);
  ExFreePoolWithTag(buffer, 'tsTM');
}

TEST(Mdl, PartialMdlOfALockedSourceMapsOnDemand) {
  std::vector<unsigned char> memory(8192);
  PMDL source = IoAllocateMdl(memory.data(), 8192, FALSE, FALSE, nullptr);
  MmProbeAndLockPages(source, KernelMode, IoReadAccess);
  PMDL partial = IoAllocateMdl(memory.data(), 8192, FALSE, FALSE, nullptr);
  IoBuildPartialMdl(source, partial, memory.data() + 10, 20);
  EXPECT_EQ(MmGetSystemAddressForMdlSafe(partial, NormalPagePriority), memory.data() + 10);
  EXPECT_NE(partial->MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED, 0);
  MmPrepareMdlForReuse(partial);
  EXPECT_EQ(partial->MdlFlags & MDL_PARTIAL_HAS_BEEN_MAPPED, 0);
  IoFreeMdl(partial);
  MmUnlockPages(source);
  IoFreeMdl(source);
}

TEST(Mdl, InitializeMdlOnCallerMemory) {
  static unsigned char buffer[100];
  alignas(8) unsigned char storage[sizeof(MDL) + 2 * sizeof(PFN_NUMBER)];
  auto *mdl = reinterpret_cast<PMDL>(storage);
  MmInitializeMdl(mdl, buffer, sizeof(buffer));
  EXPECT_EQ(MmGetMdlVirtualAddress(mdl), buffer);
  EXPECT_EQ(MmGetMdlByteCount(mdl), sizeof(buffer));
  EXPECT_EQ(static_cast<SIZE_T>(mdl->Size), MmSizeOfMdl(buffer, sizeof(buffer)));
  MmBuildMdlForNonPagedPool(mdl);
  EXPECT_EQ(MmGetSystemAddressForMdlSafe(mdl, LowPagePriority), buffer);
}

TEST(Mdl, AddressValidity) {
  static int global;
  EXPECT_TRUE(MmIsAddressValid(&global));
  void *unmapped = mmap(nullptr, PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(unmapped, MAP_FAILED);
  munmap(unmapped, PAGE_SIZE);
  EXPECT_FALSE(MmIsAddressValid(unmapped));
}

TEST(MdlDeathTest, DoubleLockIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        static unsigned char buffer[64];
        PMDL mdl = IoAllocateMdl(buffer, sizeof(buffer), FALSE, FALSE, nullptr);
        MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
        MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
      },
      "already locked");
}

TEST(MdlDeathTest, UnlockingAnUnlockedMdlIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        static unsigned char buffer[64];
        PMDL mdl = IoAllocateMdl(buffer, sizeof(buffer), FALSE, FALSE, nullptr);
        MmUnlockPages(mdl);
      },
      "not locked");
}

TEST(MdlDeathTest, FreeingALockedMdlIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        static unsigned char buffer[64];
        PMDL mdl = IoAllocateMdl(buffer, sizeof(buffer), FALSE, FALSE, nullptr);
        MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
        IoFreeMdl(mdl);
      },
      "still locked");
}

TEST(MdlDeathTest, MappingAnUnlockedMdlIsReported) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        static unsigned char buffer[64];
        PMDL mdl = IoAllocateMdl(buffer, sizeof(buffer), FALSE, FALSE, nullptr);
        (void)MmGetSystemAddressForMdlSafe(mdl, NormalPagePriority);
      },
      "neither locked");
}

TEST(MdlDeathTest, ProbingUnmappedMemoryIsAnUnhandledAccessViolation) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        // The MDL is made before the page goes, and the probe runs inside a __try block (no V35
        // report): nothing allocates between munmap and the probe, so no allocator (ASan's
        // maps memory as it goes) can map the page again meanwhile.
        void *unmapped = mmap(nullptr, PAGE_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        PMDL mdl = IoAllocateMdl(unmapped, 16, FALSE, FALSE, nullptr);
        int in_try = uwsk_seh_enter();
        munmap(unmapped, PAGE_SIZE);
        MmProbeAndLockPages(mdl, KernelMode, IoReadAccess);
        uwsk_seh_leave(&in_try);
      },
      "KMODE_EXCEPTION_NOT_HANDLED");
}

} // namespace
