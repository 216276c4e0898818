// PsInitialSystemProcess and ZwWaitForSingleObject (km/ps.h).
#include <gtest/gtest.h>

#include <wdm.h>

namespace {

TEST(SystemObjects, PsInitialSystemProcessIsTheSystemProcess) {
  EXPECT_NE(PsInitialSystemProcess, nullptr);
  EXPECT_EQ(PsInitialSystemProcess, PsGetCurrentProcess());
}

void NTAPI short_thread(PVOID context) {
  *static_cast<LONG *>(context) = 1;
}

TEST(SystemObjects, ZwWaitForSingleObjectWaitsForAThread) {
  LONG ran = 0;
  HANDLE thread = nullptr;
  ASSERT_EQ(PsCreateSystemThread(&thread, THREAD_ALL_ACCESS, nullptr, nullptr, nullptr,
                                 short_thread, &ran),
            STATUS_SUCCESS);
  EXPECT_EQ(ZwWaitForSingleObject(thread, FALSE, nullptr), STATUS_SUCCESS);
  EXPECT_EQ(ran, 1);
  EXPECT_EQ(ZwClose(thread), STATUS_SUCCESS);
  EXPECT_EQ(ZwWaitForSingleObject(thread, FALSE, nullptr), STATUS_INVALID_HANDLE);

  LARGE_INTEGER zero;
  zero.QuadPart = 0;
  EXPECT_EQ(ZwWaitForSingleObject(NtCurrentProcess(), FALSE, &zero), STATUS_TIMEOUT)
      << "the System process never ends";
}

TEST(SystemObjects, ZwWaitForSingleObjectRefusesAKeyHandle) {
  UNICODE_STRING name = RTL_CONSTANT_STRING(u"\\Registry\\Machine\\Software\\UwskWaitKey");
  OBJECT_ATTRIBUTES attributes;
  InitializeObjectAttributes(&attributes, &name, OBJ_CASE_INSENSITIVE | OBJ_KERNEL_HANDLE, nullptr,
                             nullptr);
  HANDLE key = nullptr;
  ASSERT_EQ(
      ZwCreateKey(&key, KEY_ALL_ACCESS, &attributes, 0, nullptr, REG_OPTION_VOLATILE, nullptr),
      STATUS_SUCCESS);
  EXPECT_EQ(ZwWaitForSingleObject(key, FALSE, nullptr), STATUS_OBJECT_TYPE_MISMATCH);
  EXPECT_EQ(ZwClose(key), STATUS_SUCCESS);
}

} // namespace
