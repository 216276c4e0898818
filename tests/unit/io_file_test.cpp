// The Zw file API over real files in a temporary root directory ($UWSK_ROOT).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <wdm.h>

namespace {

namespace fs = std::filesystem;

class ZwFile : public ::testing::Test {
protected:
  void SetUp() override {
    char pattern[] = "/tmp/uwsk-file-test-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    root_ = pattern;
    ::setenv("UWSK_ROOT", root_.c_str(), 1);
    fs::create_directory(root_ + "/C"); // for files the tests put there through Linux
  }
  void TearDown() override {
    std::error_code ignored;
    fs::permissions(root_, fs::perms::owner_all, fs::perm_options::add, ignored);
    fs::remove_all(root_, ignored);
    ::unsetenv("UWSK_ROOT");
  }

  // The Linux path of C:\<relative> (relative with '/').
  std::string on_c(const std::string &relative) const { return root_ + "/C/" + relative; }

  static std::string read_linux(const std::string &path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream text;
    text << in.rdbuf();
    return text.str();
  }

  // Opens `name` (a UTF-16 object name) with the given parameters.
  static NTSTATUS create(HANDLE *handle, const char16_t *name, ACCESS_MASK access, ULONG share,
                         ULONG disposition, ULONG options, IO_STATUS_BLOCK *iosb = nullptr,
                         HANDLE root = nullptr) {
    UNICODE_STRING text;
    RtlInitUnicodeString(&text, reinterpret_cast<PCWSTR>(name));
    OBJECT_ATTRIBUTES attributes;
    InitializeObjectAttributes(&attributes, &text, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, root,
                               nullptr);
    IO_STATUS_BLOCK local{};
    IO_STATUS_BLOCK *status_block = iosb != nullptr ? iosb : &local;
    status_block->Status = static_cast<NTSTATUS>(0xdeadbeef);
    status_block->Information = 0xdeadbeef;
    return ZwCreateFile(handle, access, &attributes, status_block, nullptr, FILE_ATTRIBUTE_NORMAL,
                        share, disposition, options, nullptr, 0);
  }

  static NTSTATUS write(HANDLE handle, const std::string &data, LARGE_INTEGER *offset = nullptr,
                        ULONG_PTR *written = nullptr) {
    IO_STATUS_BLOCK iosb{};
    NTSTATUS status =
        ZwWriteFile(handle, nullptr, nullptr, nullptr, &iosb, const_cast<char *>(data.data()),
                    static_cast<ULONG>(data.size()), offset, nullptr);
    if (written != nullptr) {
      *written = iosb.Information;
    }
    return status;
  }

  static NTSTATUS read(HANDLE handle, std::string &out, ULONG length,
                       LARGE_INTEGER *offset = nullptr) {
    out.assign(length, '\0');
    IO_STATUS_BLOCK iosb{};
    NTSTATUS status =
        ZwReadFile(handle, nullptr, nullptr, nullptr, &iosb, out.data(), length, offset, nullptr);
    out.resize(NT_SUCCESS(status) ? iosb.Information : 0);
    return status;
  }

  static NTSTATUS delete_file(const char16_t *name) {
    UNICODE_STRING text;
    RtlInitUnicodeString(&text, reinterpret_cast<PCWSTR>(name));
    OBJECT_ATTRIBUTES attributes;
    InitializeObjectAttributes(&attributes, &text, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE,
                               nullptr, nullptr);
    return ZwDeleteFile(&attributes);
  }

  static constexpr ULONG sync = FILE_SYNCHRONOUS_IO_NONALERT | FILE_NON_DIRECTORY_FILE;
  std::string root_;
};

TEST_F(ZwFile, CreateWriteReadBackThroughLinux) {
  HANDLE h = nullptr;
  IO_STATUS_BLOCK iosb{};
  ASSERT_EQ(create(&h, u"\\??\\C:\\driver.log", GENERIC_WRITE | GENERIC_READ, FILE_SHARE_READ,
                   FILE_CREATE, sync, &iosb),
            STATUS_SUCCESS);
  EXPECT_EQ(iosb.Status, STATUS_SUCCESS);
  EXPECT_EQ(iosb.Information, static_cast<ULONG_PTR>(FILE_CREATED));
  ULONG_PTR written = 0;
  EXPECT_EQ(write(h, "hello ", nullptr, &written), STATUS_SUCCESS);
  EXPECT_EQ(written, 6u);
  EXPECT_EQ(write(h, "world"), STATUS_SUCCESS); // NULL ByteOffset: at the current position
  EXPECT_EQ(read_linux(on_c("driver.log")), "hello world");

  LARGE_INTEGER at{};
  at.QuadPart = 6;
  std::string text;
  EXPECT_EQ(read(h, text, 100, &at), STATUS_SUCCESS);
  EXPECT_EQ(text, "world");
  EXPECT_EQ(read(h, text, 100), STATUS_END_OF_FILE); // the position is now at the end
  EXPECT_EQ(ZwClose(h), STATUS_SUCCESS);
  EXPECT_EQ(ZwClose(h), STATUS_INVALID_HANDLE);
}

TEST_F(ZwFile, PrefixesMapToTheSameDrive) {
  HANDLE h = nullptr;
  ASSERT_EQ(create(&h, u"\\DosDevices\\C:\\Windows\\Temp\\a.txt", FILE_GENERIC_WRITE, 0,
                   FILE_CREATE, sync),
            STATUS_SUCCESS);
  ASSERT_EQ(write(h, "x"), STATUS_SUCCESS);
  ZwClose(h);
  EXPECT_TRUE(fs::exists(on_c("Windows/Temp/a.txt")));
  // \SystemRoot is C:\Windows; names compare without regard to case.
  IO_STATUS_BLOCK iosb{};
  ASSERT_EQ(create(&h, u"\\SystemRoot\\TEMP\\A.TXT", FILE_GENERIC_READ, FILE_SHARE_READ, FILE_OPEN,
                   sync, &iosb),
            STATUS_SUCCESS);
  EXPECT_EQ(iosb.Information, static_cast<ULONG_PTR>(FILE_OPENED));
  ZwClose(h);
  ASSERT_EQ(create(&h, u"\\GLOBAL??\\c:\\windows\\temp\\a.txt", FILE_GENERIC_READ, FILE_SHARE_READ,
                   FILE_OPEN, sync),
            STATUS_SUCCESS);
  ZwClose(h);
  EXPECT_TRUE(fs::is_directory(on_c("Windows/System32/drivers")));
}

TEST_F(ZwFile, DispositionsAndTheirStatuses) {
  HANDLE h = nullptr;
  IO_STATUS_BLOCK iosb{};
  EXPECT_EQ(create(&h, u"\\??\\C:\\missing.txt", FILE_GENERIC_READ, 0, FILE_OPEN, sync),
            STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(create(&h, u"\\??\\C:\\missing.txt", FILE_GENERIC_WRITE, 0, FILE_OVERWRITE, sync),
            STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(create(&h, u"\\??\\C:\\nodir\\x.txt", FILE_GENERIC_WRITE, 0, FILE_CREATE, sync),
            STATUS_OBJECT_PATH_NOT_FOUND);

  ASSERT_EQ(create(&h, u"\\??\\C:\\f.txt", FILE_GENERIC_WRITE, 0, FILE_OPEN_IF, sync, &iosb),
            STATUS_SUCCESS);
  EXPECT_EQ(iosb.Information, static_cast<ULONG_PTR>(FILE_CREATED));
  ASSERT_EQ(write(h, "0123456789"), STATUS_SUCCESS);
  ZwClose(h);
  EXPECT_EQ(create(&h, u"\\??\\C:\\f.txt", FILE_GENERIC_WRITE, 0, FILE_CREATE, sync),
            STATUS_OBJECT_NAME_COLLISION);
  // A path through a file is a missing path.
  EXPECT_EQ(create(&h, u"\\??\\C:\\f.txt\\x", FILE_GENERIC_WRITE, 0, FILE_CREATE, sync),
            STATUS_OBJECT_PATH_NOT_FOUND);

  ASSERT_EQ(create(&h, u"\\??\\C:\\f.txt", FILE_GENERIC_WRITE, 0, FILE_OPEN_IF, sync, &iosb),
            STATUS_SUCCESS);
  EXPECT_EQ(iosb.Information, static_cast<ULONG_PTR>(FILE_OPENED));
  ZwClose(h);
  EXPECT_EQ(fs::file_size(on_c("f.txt")), 10u);

  ASSERT_EQ(create(&h, u"\\??\\C:\\f.txt", FILE_GENERIC_WRITE, 0, FILE_OVERWRITE_IF, sync, &iosb),
            STATUS_SUCCESS);
  EXPECT_EQ(iosb.Information, static_cast<ULONG_PTR>(FILE_OVERWRITTEN));
  ZwClose(h);
  EXPECT_EQ(fs::file_size(on_c("f.txt")), 0u);

  EXPECT_EQ(write(nullptr, "x"), STATUS_INVALID_HANDLE);
  ASSERT_EQ(create(&h, u"\\??\\C:\\f.txt", FILE_GENERIC_WRITE, 0, FILE_SUPERSEDE, sync, &iosb),
            STATUS_SUCCESS);
  EXPECT_EQ(iosb.Information, static_cast<ULONG_PTR>(FILE_SUPERSEDED));
  ZwClose(h);
  ASSERT_EQ(create(&h, u"\\??\\C:\\new.txt", FILE_GENERIC_WRITE, 0, FILE_SUPERSEDE, sync, &iosb),
            STATUS_SUCCESS);
  EXPECT_EQ(iosb.Information, static_cast<ULONG_PTR>(FILE_CREATED));
  ZwClose(h);
}

TEST_F(ZwFile, BadNamesAndParameters) {
  HANDLE h = nullptr;
  EXPECT_EQ(create(&h, u"\\??\\C:\\a\\..\\b", FILE_GENERIC_WRITE, 0, FILE_CREATE, sync),
            STATUS_OBJECT_NAME_INVALID);
  EXPECT_EQ(create(&h, u"\\??\\C:\\a*b", FILE_GENERIC_WRITE, 0, FILE_CREATE, sync),
            STATUS_OBJECT_NAME_INVALID);
  EXPECT_EQ(create(&h, u"\\??\\C:\\a\\\\b", FILE_GENERIC_WRITE, 0, FILE_CREATE, sync),
            STATUS_OBJECT_NAME_INVALID);
  EXPECT_EQ(create(&h, u"relative.txt", FILE_GENERIC_WRITE, 0, FILE_CREATE, sync),
            STATUS_OBJECT_PATH_SYNTAX_BAD);
  EXPECT_EQ(create(&h, u"\\Device\\Nowhere\\x", FILE_GENERIC_WRITE, 0, FILE_CREATE, sync),
            STATUS_OBJECT_PATH_NOT_FOUND);
  EXPECT_EQ(create(&h, u"\\??\\Q:\\x", FILE_GENERIC_WRITE, 0, FILE_CREATE, sync),
            STATUS_OBJECT_PATH_NOT_FOUND);
  // Synchronous I/O needs SYNCHRONIZE; a disposition beyond the last is refused.
  EXPECT_EQ(create(&h, u"\\??\\C:\\x", FILE_WRITE_DATA, 0, FILE_CREATE, sync),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(create(&h, u"\\??\\C:\\x", FILE_GENERIC_WRITE, 0, 6, sync), STATUS_INVALID_PARAMETER);
  EXPECT_EQ(create(&h, u"\\??\\C:\\x", FILE_GENERIC_WRITE, 0, FILE_CREATE,
                   FILE_DIRECTORY_FILE | FILE_NON_DIRECTORY_FILE),
            STATUS_INVALID_PARAMETER);
  EXPECT_EQ(
      create(&h, u"\\??\\C:\\x", FILE_GENERIC_WRITE, 0, FILE_CREATE, sync | FILE_DELETE_ON_CLOSE),
      STATUS_INVALID_PARAMETER); // no DELETE access
  EXPECT_FALSE(fs::exists(on_c("x")));
}

TEST_F(ZwFile, AppendDataWritesAtTheEnd) {
  { std::ofstream(on_c("append.log")) << "first\n"; }
  HANDLE h = nullptr;
  ASSERT_EQ(create(&h, u"\\??\\C:\\append.log", FILE_APPEND_DATA | SYNCHRONIZE,
                   FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN_IF, sync),
            STATUS_SUCCESS);
  LARGE_INTEGER start{};
  start.QuadPart = 0; // ignored: the handle may only append
  EXPECT_EQ(write(h, "second\n", &start), STATUS_SUCCESS);
  EXPECT_EQ(write(h, "third\n"), STATUS_SUCCESS);
  std::string text;
  EXPECT_EQ(read(h, text, 10, &start), STATUS_ACCESS_DENIED);
  ZwClose(h);
  EXPECT_EQ(read_linux(on_c("append.log")), "first\nsecond\nthird\n");

  // FILE_WRITE_TO_END_OF_FILE on a handle that may write anywhere.
  ASSERT_EQ(create(&h, u"\\??\\C:\\append.log", FILE_GENERIC_WRITE, 0, FILE_OPEN, sync),
            STATUS_SUCCESS);
  LARGE_INTEGER end{};
  end.HighPart = -1;
  end.LowPart = FILE_WRITE_TO_END_OF_FILE;
  EXPECT_EQ(write(h, "fourth\n", &end), STATUS_SUCCESS);
  ZwClose(h);
  EXPECT_EQ(read_linux(on_c("append.log")), "first\nsecond\nthird\nfourth\n");
}

TEST_F(ZwFile, AsynchronousHandleNeedsAnOffset) {
  HANDLE h = nullptr;
  ASSERT_EQ(create(&h, u"\\??\\C:\\async.bin", FILE_READ_DATA | FILE_WRITE_DATA, 0, FILE_CREATE,
                   FILE_NON_DIRECTORY_FILE),
            STATUS_SUCCESS);
  EXPECT_EQ(write(h, "abc"), STATUS_INVALID_PARAMETER);
  LARGE_INTEGER at{};
  at.QuadPart = 4;
  EXPECT_EQ(write(h, "xyz", &at), STATUS_SUCCESS);
  EXPECT_EQ(fs::file_size(on_c("async.bin")), 7u);
  at.QuadPart = -5;
  EXPECT_EQ(write(h, "xyz", &at), STATUS_INVALID_PARAMETER);
  ZwClose(h);
}

TEST_F(ZwFile, QueryAndSetInformation) {
  HANDLE h = nullptr;
  ASSERT_EQ(create(&h, u"\\??\\C:\\info.bin", GENERIC_READ | GENERIC_WRITE | DELETE, 0, FILE_CREATE,
                   sync),
            STATUS_SUCCESS);
  ASSERT_EQ(write(h, "0123456789"), STATUS_SUCCESS);
  IO_STATUS_BLOCK iosb{};

  FILE_STANDARD_INFORMATION standard;
  std::memset(&standard, 0xcc, sizeof standard);
  ASSERT_EQ(ZwQueryInformationFile(h, &iosb, &standard, sizeof standard, FileStandardInformation),
            STATUS_SUCCESS);
  EXPECT_EQ(iosb.Information, sizeof standard);
  EXPECT_EQ(standard.EndOfFile.QuadPart, 10);
  EXPECT_EQ(standard.NumberOfLinks, 1u);
  EXPECT_FALSE(standard.DeletePending);
  EXPECT_FALSE(standard.Directory);
  EXPECT_EQ(
      ZwQueryInformationFile(h, &iosb, &standard, sizeof standard - 1, FileStandardInformation),
      STATUS_INFO_LENGTH_MISMATCH);

  FILE_POSITION_INFORMATION position{};
  ASSERT_EQ(ZwQueryInformationFile(h, &iosb, &position, sizeof position, FilePositionInformation),
            STATUS_SUCCESS);
  EXPECT_EQ(position.CurrentByteOffset.QuadPart, 10);
  position.CurrentByteOffset.QuadPart = 2;
  ASSERT_EQ(ZwSetInformationFile(h, &iosb, &position, sizeof position, FilePositionInformation),
            STATUS_SUCCESS);
  std::string text;
  EXPECT_EQ(read(h, text, 3), STATUS_SUCCESS);
  EXPECT_EQ(text, "234");

  LARGE_INTEGER before{};
  KeQuerySystemTime(&before);
  FILE_BASIC_INFORMATION basic{};
  ASSERT_EQ(ZwQueryInformationFile(h, &iosb, &basic, sizeof basic, FileBasicInformation),
            STATUS_SUCCESS);
  EXPECT_EQ(basic.FileAttributes & FILE_ATTRIBUTE_DIRECTORY, 0u);
  // Written within the last minute (the clocks agree: both are the system time).
  EXPECT_LE(basic.LastWriteTime.QuadPart, before.QuadPart + 10000000LL);
  EXPECT_GT(basic.LastWriteTime.QuadPart, before.QuadPart - 600000000LL);
  basic.LastWriteTime.QuadPart = 116444736000000000LL + 86400LL * 10000000LL; // 1970-01-02
  basic.LastAccessTime.QuadPart = 0;
  basic.CreationTime.QuadPart = 0;
  basic.ChangeTime.QuadPart = 0;
  basic.FileAttributes = 0;
  ASSERT_EQ(ZwSetInformationFile(h, &iosb, &basic, sizeof basic, FileBasicInformation),
            STATUS_SUCCESS);
  struct stat st {};
  ASSERT_EQ(::stat(on_c("info.bin").c_str(), &st), 0);
  EXPECT_EQ(st.st_mtim.tv_sec, 86400);

  FILE_END_OF_FILE_INFORMATION eof{};
  eof.EndOfFile.QuadPart = 4;
  ASSERT_EQ(ZwSetInformationFile(h, &iosb, &eof, sizeof eof, FileEndOfFileInformation),
            STATUS_SUCCESS);
  EXPECT_EQ(fs::file_size(on_c("info.bin")), 4u);

  EXPECT_EQ(ZwQueryInformationFile(h, &iosb, &eof, sizeof eof, FileEndOfFileInformation),
            STATUS_INVALID_INFO_CLASS);

  FILE_DISPOSITION_INFORMATION disposition{TRUE};
  ASSERT_EQ(
      ZwSetInformationFile(h, &iosb, &disposition, sizeof disposition, FileDispositionInformation),
      STATUS_SUCCESS);
  ASSERT_EQ(ZwQueryInformationFile(h, &iosb, &standard, sizeof standard, FileStandardInformation),
            STATUS_SUCCESS);
  EXPECT_TRUE(standard.DeletePending);
  HANDLE other = nullptr;
  EXPECT_EQ(create(&other, u"\\??\\C:\\info.bin", FILE_GENERIC_READ, FILE_SHARE_VALID_FLAGS,
                   FILE_OPEN, sync),
            STATUS_DELETE_PENDING);
  EXPECT_TRUE(fs::exists(on_c("info.bin")));
  EXPECT_EQ(ZwFlushBuffersFile(h, &iosb), STATUS_SUCCESS);
  ZwClose(h);
  EXPECT_FALSE(fs::exists(on_c("info.bin")));
}

TEST_F(ZwFile, SetDispositionNeedsDeleteAccess) {
  HANDLE h = nullptr;
  ASSERT_EQ(create(&h, u"\\??\\C:\\keep.txt", FILE_GENERIC_WRITE, 0, FILE_CREATE, sync),
            STATUS_SUCCESS);
  IO_STATUS_BLOCK iosb{};
  FILE_DISPOSITION_INFORMATION disposition{TRUE};
  EXPECT_EQ(
      ZwSetInformationFile(h, &iosb, &disposition, sizeof disposition, FileDispositionInformation),
      STATUS_ACCESS_DENIED);
  ZwClose(h);
  EXPECT_TRUE(fs::exists(on_c("keep.txt")));
}

TEST_F(ZwFile, SharingViolations) {
  HANDLE first = nullptr;
  HANDLE second = nullptr;
  ASSERT_EQ(create(&first, u"\\??\\C:\\shared.log", FILE_GENERIC_WRITE, FILE_SHARE_READ,
                   FILE_CREATE, sync),
            STATUS_SUCCESS);
  // A reader is welcome; a second writer is not.
  ASSERT_EQ(create(&second, u"\\??\\C:\\shared.log", FILE_GENERIC_READ,
                   FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, sync),
            STATUS_SUCCESS);
  HANDLE third = nullptr;
  EXPECT_EQ(create(&third, u"\\??\\C:\\shared.log", FILE_GENERIC_WRITE,
                   FILE_SHARE_READ | FILE_SHARE_WRITE, FILE_OPEN, sync),
            STATUS_SHARING_VIOLATION);
  // A reader that will not share writing conflicts with the open writer.
  EXPECT_EQ(
      create(&third, u"\\??\\C:\\shared.log", FILE_GENERIC_READ, FILE_SHARE_READ, FILE_OPEN, sync),
      STATUS_SHARING_VIOLATION);
  // Nobody shares delete.
  EXPECT_EQ(delete_file(u"\\??\\C:\\shared.log"), STATUS_SHARING_VIOLATION);
  ZwClose(second);
  ZwClose(first);
  ASSERT_EQ(create(&third, u"\\??\\C:\\shared.log", FILE_GENERIC_WRITE, 0, FILE_OPEN, sync),
            STATUS_SUCCESS);
  ZwClose(third);
}

TEST_F(ZwFile, DeleteFileAndDeleteOnClose) {
  HANDLE h = nullptr;
  ASSERT_EQ(create(&h, u"\\??\\C:\\gone.txt", FILE_GENERIC_WRITE, 0, FILE_CREATE, sync),
            STATUS_SUCCESS);
  ZwClose(h);
  EXPECT_EQ(delete_file(u"\\??\\C:\\gone.txt"), STATUS_SUCCESS);
  EXPECT_FALSE(fs::exists(on_c("gone.txt")));
  EXPECT_EQ(delete_file(u"\\??\\C:\\gone.txt"), STATUS_OBJECT_NAME_NOT_FOUND);
  EXPECT_EQ(delete_file(u"\\??\\C:\\nodir\\gone.txt"), STATUS_OBJECT_PATH_NOT_FOUND);

  ASSERT_EQ(create(&h, u"\\??\\C:\\temp.txt", FILE_GENERIC_WRITE | DELETE, 0, FILE_CREATE,
                   sync | FILE_DELETE_ON_CLOSE),
            STATUS_SUCCESS);
  EXPECT_TRUE(fs::exists(on_c("temp.txt")));
  ZwClose(h);
  EXPECT_FALSE(fs::exists(on_c("temp.txt")));

  // An open file shared for deletion is deleted when its last handle goes.
  ASSERT_EQ(
      create(&h, u"\\??\\C:\\later.txt", FILE_GENERIC_WRITE, FILE_SHARE_DELETE, FILE_CREATE, sync),
      STATUS_SUCCESS);
  EXPECT_EQ(delete_file(u"\\??\\C:\\later.txt"), STATUS_SUCCESS);
  EXPECT_TRUE(fs::exists(on_c("later.txt")));
  ZwClose(h);
  EXPECT_FALSE(fs::exists(on_c("later.txt")));
}

TEST_F(ZwFile, DirectoriesAndRelativeOpens) {
  HANDLE dir = nullptr;
  IO_STATUS_BLOCK iosb{};
  ASSERT_EQ(create(&dir, u"\\??\\C:\\logs", FILE_LIST_DIRECTORY | SYNCHRONIZE, FILE_SHARE_READ,
                   FILE_CREATE, FILE_DIRECTORY_FILE | FILE_SYNCHRONOUS_IO_NONALERT, &iosb),
            STATUS_SUCCESS);
  EXPECT_EQ(iosb.Information, static_cast<ULONG_PTR>(FILE_CREATED));
  EXPECT_TRUE(fs::is_directory(on_c("logs")));
  HANDLE file = nullptr;
  ASSERT_EQ(create(&file, u"one.log", FILE_GENERIC_WRITE, 0, FILE_CREATE, sync, nullptr, dir),
            STATUS_SUCCESS);
  EXPECT_EQ(write(dir, "x"), STATUS_INVALID_DEVICE_REQUEST);
  EXPECT_TRUE(fs::exists(on_c("logs/one.log")));
  HANDLE other = nullptr;
  EXPECT_EQ(create(&other, u"\\??\\C:\\logs", FILE_GENERIC_READ, 0, FILE_OPEN, sync),
            STATUS_FILE_IS_A_DIRECTORY);
  EXPECT_EQ(create(&other, u"\\??\\C:\\logs\\one.log", FILE_LIST_DIRECTORY | SYNCHRONIZE,
                   FILE_SHARE_VALID_FLAGS, FILE_OPEN,
                   FILE_DIRECTORY_FILE | FILE_SYNCHRONOUS_IO_NONALERT),
            STATUS_NOT_A_DIRECTORY);
  ZwClose(file);
  EXPECT_EQ(delete_file(u"\\??\\C:\\logs"), STATUS_DIRECTORY_NOT_EMPTY);

  // Rename within the directory by a bare name.
  ASSERT_EQ(
      create(&file, u"\\??\\C:\\logs\\one.log", FILE_GENERIC_WRITE | DELETE, 0, FILE_OPEN, sync),
      STATUS_SUCCESS);
  alignas(FILE_RENAME_INFORMATION) unsigned char buffer[sizeof(FILE_RENAME_INFORMATION) + 32]{};
  auto *rename = reinterpret_cast<FILE_RENAME_INFORMATION *>(buffer);
  const char16_t new_name[] = u"two.log";
  rename->ReplaceIfExists = FALSE;
  rename->FileNameLength = sizeof new_name - sizeof(char16_t);
  std::memcpy(rename->FileName, new_name, rename->FileNameLength);
  ASSERT_EQ(ZwSetInformationFile(file, &iosb, rename, sizeof buffer, FileRenameInformation),
            STATUS_SUCCESS);
  EXPECT_TRUE(fs::exists(on_c("logs/two.log")));
  EXPECT_FALSE(fs::exists(on_c("logs/one.log")));
  ZwClose(file);
  EXPECT_EQ(delete_file(u"\\??\\C:\\logs\\two.log"), STATUS_SUCCESS);
  ZwClose(dir);
  EXPECT_EQ(delete_file(u"\\??\\C:\\logs"), STATUS_SUCCESS);
  EXPECT_FALSE(fs::exists(on_c("logs")));
}

TEST_F(ZwFile, HandleIsAFileObjectAndOtherHandlesMismatch) {
  HANDLE h = nullptr;
  ASSERT_EQ(create(&h, u"\\??\\C:\\obj.txt", FILE_GENERIC_READ | FILE_GENERIC_WRITE, 0, FILE_CREATE,
                   sync),
            STATUS_SUCCESS);
  PVOID object = nullptr;
  ASSERT_EQ(ObReferenceObjectByHandle(h, 0, *IoFileObjectType, KernelMode, &object, nullptr),
            STATUS_SUCCESS);
  ZwClose(h);
  ObDereferenceObject(object);

  // A registry key handle is not a file.
  UNICODE_STRING key_name;
  RtlInitUnicodeString(&key_name, reinterpret_cast<PCWSTR>(u"\\Registry\\Machine\\System"));
  OBJECT_ATTRIBUTES attributes;
  InitializeObjectAttributes(&attributes, &key_name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE,
                             nullptr, nullptr);
  HANDLE key = nullptr;
  ASSERT_EQ(ZwOpenKey(&key, KEY_READ, &attributes), STATUS_SUCCESS);
  std::string text;
  EXPECT_EQ(read(key, text, 4, nullptr), STATUS_OBJECT_TYPE_MISMATCH);
  ZwClose(key);
}

TEST_F(ZwFile, QueryFullAttributesAndOpenFile) {
  { std::ofstream(on_c("plain.txt")) << "12345"; }
  UNICODE_STRING name;
  RtlInitUnicodeString(&name, reinterpret_cast<PCWSTR>(u"\\??\\C:\\PLAIN.txt"));
  OBJECT_ATTRIBUTES attributes;
  InitializeObjectAttributes(&attributes, &name, OBJ_KERNEL_HANDLE | OBJ_CASE_INSENSITIVE, nullptr,
                             nullptr);
  FILE_NETWORK_OPEN_INFORMATION info{};
  ASSERT_EQ(ZwQueryFullAttributesFile(&attributes, &info), STATUS_SUCCESS);
  EXPECT_EQ(info.EndOfFile.QuadPart, 5);
  EXPECT_EQ(info.FileAttributes & FILE_ATTRIBUTE_DIRECTORY, 0u);
  HANDLE h = nullptr;
  IO_STATUS_BLOCK iosb{};
  ASSERT_EQ(ZwOpenFile(&h, FILE_GENERIC_READ, &attributes, &iosb, FILE_SHARE_READ,
                       FILE_SYNCHRONOUS_IO_NONALERT),
            STATUS_SUCCESS);
  std::string text;
  EXPECT_EQ(read(h, text, 100), STATUS_SUCCESS);
  EXPECT_EQ(text, "12345");
  EXPECT_EQ(write(h, "no"), STATUS_ACCESS_DENIED);
  ZwClose(h);
}

TEST_F(ZwFile, OnlyAtPassiveLevel) {
  EXPECT_DEATH(
      {
        KIRQL old;
        KeRaiseIrql(DISPATCH_LEVEL, &old);
        HANDLE h = nullptr;
        create(&h, u"\\??\\C:\\x", FILE_GENERIC_WRITE, 0, FILE_CREATE, sync);
      },
      "ZwCreateFile called at IRQL 2");
}

} // namespace
