// MmGetSystemRoutineAddress, in a program linked against the shared libuwsk: its dynamic
// symbols are exactly libuwsk's exports, which is what drivers see.
#include <gtest/gtest.h>

#include <dlfcn.h>

#include <wdm.h>

namespace {

UNICODE_STRING name_of(const char16_t *text) {
  UNICODE_STRING s;
  RtlInitUnicodeString(&s, reinterpret_cast<PCWSTR>(text));
  return s;
}

TEST(MmGetSystemRoutineAddress, AnswersForExportsOnly) {
  UNICODE_STRING name = name_of(u"ZwCreateFile");
  EXPECT_EQ(MmGetSystemRoutineAddress(&name), reinterpret_cast<PVOID>(&ZwCreateFile));
  name = name_of(u"ExAllocatePool2");
  EXPECT_EQ(MmGetSystemRoutineAddress(&name), reinterpret_cast<PVOID>(&ExAllocatePool2));
  name = name_of(u"MmGetSystemRoutineAddress");
  EXPECT_EQ(MmGetSystemRoutineAddress(&name), reinterpret_cast<PVOID>(&MmGetSystemRoutineAddress));
  name = name_of(u"NoSuchRoutineAnywhere");
  EXPECT_EQ(MmGetSystemRoutineAddress(&name), nullptr);
  // In the process, but not one of libuwsk's exports.
  ASSERT_NE(dlsym(RTLD_DEFAULT, "malloc"), nullptr);
  name = name_of(u"malloc");
  EXPECT_EQ(MmGetSystemRoutineAddress(&name), nullptr);
  name = name_of(u"Zw Create");
  EXPECT_EQ(MmGetSystemRoutineAddress(&name), nullptr);
  EXPECT_EQ(MmGetSystemRoutineAddress(nullptr), nullptr);
}

} // namespace
