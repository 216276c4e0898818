// The Zw file API over Linux files (km/file.h).
//
// A file handle's object is a file_object: a FILE_OBJECT header (what ObReferenceObjectByHandle
// gives a driver) followed by the Linux descriptor, the granted access, the share mode and the
// position of synchronous handles. Every open of the same Linux file (device and inode) shares
// one file_node, which holds what Windows keeps per file rather than per handle: the share modes
// granted so far (to refuse conflicting opens with STATUS_SHARING_VIOLATION) and the pending
// delete, carried out when the last file object of the file goes away. One lock, files_lock,
// orders opens, deletes, renames and closes; reads and writes take only their object's lock.
#include <wdm.h>

#include <cerrno>
#include <cstddef>
#include <cstring>
#include <dirent.h>
#include <fcntl.h>
#include <map>
#include <mutex>
#include <sys/stat.h>
#include <unistd.h>
#include <utility>

#include "nt/io/file_paths.hpp"
#include "nt/ke/irql.hpp"
#include "nt/ke/time.hpp"
#include "nt/ps/object.hpp"

namespace uwsk::nt {
namespace {

constexpr ACCESS_MASK read_access = FILE_READ_DATA | FILE_EXECUTE;
constexpr ACCESS_MASK write_access = FILE_WRITE_DATA | FILE_APPEND_DATA;
constexpr ULONG synchronous_options = FILE_SYNCHRONOUS_IO_ALERT | FILE_SYNCHRONOUS_IO_NONALERT;
// FILE_NO_INTERMEDIATE_BUFFERING transfers must be whole sectors.
constexpr LONGLONG sector_size = 512;

struct file_object;

struct file_node {
  dev_t device = 0;
  ino_t inode = 0;
  std::string path; // where the file is now (renames through ZwSetInformationFile follow it)
  bool directory = false;
  bool delete_pending = false;
  std::vector<file_object *> opens; // guarded by files_lock
  std::mutex append_lock;           // orders writes at the end of the file
};

struct file_object {
  FILE_OBJECT header; // first: drivers see the body as a FILE_OBJECT
  int fd = -1;
  ACCESS_MASK access = 0;
  ULONG share = 0;
  ULONG options = 0;
  bool delete_on_close = false;
  file_node *node = nullptr; // shared; freed with the last file object of the file
  std::mutex lock;           // serialises I/O on the object and guards position
  LONGLONG position = 0;
};

std::mutex files_lock;
std::map<std::pair<dev_t, ino_t>, file_node *> &nodes() {
  static auto *map = new std::map<std::pair<dev_t, ino_t>, file_node *>;
  return *map;
}

void delete_file_object(void *body);

_OBJECT_TYPE file_type_object{"File", delete_file_object};
POBJECT_TYPE file_type_pointer = &file_type_object;

// errno from an open/create -> the status Windows gives for the same condition.
NTSTATUS status_from_errno(int error) {
  switch (error) {
  case ENOENT:
  case ENOTDIR:
    return STATUS_OBJECT_PATH_NOT_FOUND;
  case EEXIST:
    return STATUS_OBJECT_NAME_COLLISION;
  case EACCES:
  case EPERM:
    return STATUS_ACCESS_DENIED;
  case EISDIR:
    return STATUS_FILE_IS_A_DIRECTORY;
  case ENOTEMPTY:
    return STATUS_DIRECTORY_NOT_EMPTY;
  case ENOSPC:
  case EDQUOT:
  case EFBIG:
    return STATUS_DISK_FULL;
  case EROFS:
    return STATUS_MEDIA_WRITE_PROTECTED;
  case EMFILE:
  case ENFILE:
    return STATUS_TOO_MANY_OPENED_FILES;
  case ENAMETOOLONG:
    return STATUS_OBJECT_NAME_INVALID;
  case ENOMEM:
    return STATUS_INSUFFICIENT_RESOURCES;
  case EBUSY:
    return STATUS_SHARING_VIOLATION;
  default:
    return STATUS_UNEXPECTED_IO_ERROR;
  }
}

// GENERIC_* and MAXIMUM_ALLOWED -> the file rights they stand for.
ACCESS_MASK map_generic_access(ACCESS_MASK access) {
  if ((access & (GENERIC_ALL | MAXIMUM_ALLOWED)) != 0) {
    access |= FILE_ALL_ACCESS;
  }
  if ((access & GENERIC_READ) != 0) {
    access |= FILE_GENERIC_READ;
  }
  if ((access & GENERIC_WRITE) != 0) {
    access |= FILE_GENERIC_WRITE;
  }
  if ((access & GENERIC_EXECUTE) != 0) {
    access |= FILE_GENERIC_EXECUTE;
  }
  return access & ~static_cast<ACCESS_MASK>(GENERIC_ALL | GENERIC_READ | GENERIC_WRITE |
                                            GENERIC_EXECUTE | MAXIMUM_ALLOWED);
}

// Whether an open with `access` and `share` may join the opens of `node` (Windows' rule: each
// side's data access must be shared by the other). Opens without read, write or delete access
// take no part.
bool share_allows(const file_node &node, ACCESS_MASK access, ULONG share) {
  const bool reads = (access & read_access) != 0;
  const bool writes = (access & write_access) != 0;
  const bool deletes = (access & DELETE) != 0;
  if (!reads && !writes && !deletes) {
    return true;
  }
  for (const file_object *other : node.opens) {
    const bool other_reads = (other->access & read_access) != 0;
    const bool other_writes = (other->access & write_access) != 0;
    const bool other_deletes = (other->access & DELETE) != 0;
    if (!other_reads && !other_writes && !other_deletes) {
      continue;
    }
    if ((reads && !(other->share & FILE_SHARE_READ)) ||
        (writes && !(other->share & FILE_SHARE_WRITE)) ||
        (deletes && !(other->share & FILE_SHARE_DELETE)) ||
        (other_reads && !(share & FILE_SHARE_READ)) ||
        (other_writes && !(share & FILE_SHARE_WRITE)) ||
        (other_deletes && !(share & FILE_SHARE_DELETE))) {
      return false;
    }
  }
  return true;
}

file_node *find_node(const struct stat &st) {
  auto it = nodes().find({st.st_dev, st.st_ino});
  return it == nodes().end() ? nullptr : it->second;
}

bool directory_is_empty(const std::string &path) {
  // rmdir on a copy is not possible; count entries instead.
  int fd = ::open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    return false;
  }
  DIR *d = ::fdopendir(fd);
  if (d == nullptr) {
    ::close(fd);
    return false;
  }
  bool empty = true;
  while (const dirent *entry = ::readdir(d)) {
    if (std::strcmp(entry->d_name, ".") != 0 && std::strcmp(entry->d_name, "..") != 0) {
      empty = false;
      break;
    }
  }
  ::closedir(d);
  return empty;
}

// Removes the file at `path` if it is still the file (device, inode) named there.
void remove_if_same(const std::string &path, dev_t device, ino_t inode, bool directory) {
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0 || st.st_dev != device || st.st_ino != inode) {
    return;
  }
  if (directory) {
    ::rmdir(path.c_str());
  } else {
    ::unlink(path.c_str());
  }
}

void delete_file_object(void *body) {
  auto *file = static_cast<file_object *>(body);
  {
    std::lock_guard guard(files_lock);
    file_node *node = file->node;
    std::erase(node->opens, file);
    if (file->delete_on_close) {
      node->delete_pending = true;
    }
    if (node->opens.empty()) {
      if (node->delete_pending) {
        remove_if_same(node->path, node->device, node->inode, node->directory);
      }
      nodes().erase({node->device, node->inode});
      delete node;
    }
  }
  ::close(file->fd);
  delete file;
}

// The file object behind a handle, with a reference the caller drops (ObDereferenceObject).
NTSTATUS reference_file(HANDLE handle, file_object **file) {
  PVOID body = nullptr;
  NTSTATUS status =
      ObReferenceObjectByHandle(handle, 0, file_type_pointer, KernelMode, &body, nullptr);
  *file = static_cast<file_object *>(body);
  return status;
}

struct file_reference {
  file_object *file = nullptr;
  ~file_reference() {
    if (file != nullptr) {
      ObDereferenceObject(file);
    }
  }
};

// The Linux path of ObjectAttributes->RootDirectory ("" when there is none).
NTSTATUS root_directory_path(const OBJECT_ATTRIBUTES *attributes, std::string &base) {
  base.clear();
  if (attributes->RootDirectory == nullptr) {
    return STATUS_SUCCESS;
  }
  file_reference root;
  NTSTATUS status = reference_file(attributes->RootDirectory, &root.file);
  if (!NT_SUCCESS(status)) {
    return status;
  }
  if (!root.file->node->directory) {
    return STATUS_OBJECT_PATH_NOT_FOUND;
  }
  std::lock_guard guard(files_lock);
  base = root.file->node->path;
  return STATUS_SUCCESS;
}

NTSTATUS validate_object_attributes(const OBJECT_ATTRIBUTES *attributes) {
  if (attributes == nullptr || attributes->Length != sizeof(OBJECT_ATTRIBUTES) ||
      (attributes->Attributes & ~static_cast<ULONG>(OBJ_VALID_ATTRIBUTES)) != 0) {
    return STATUS_INVALID_PARAMETER;
  }
  return STATUS_SUCCESS;
}

// Validates OBJECT_ATTRIBUTES and resolves the file name they hold.
NTSTATUS resolve_attributes(const OBJECT_ATTRIBUTES *attributes, resolved_name &name) {
  if (NTSTATUS status = validate_object_attributes(attributes); !NT_SUCCESS(status)) {
    return status;
  }
  std::string base;
  if (NTSTATUS status = root_directory_path(attributes, base); !NT_SUCCESS(status)) {
    return status;
  }
  return resolve_file_name(attributes->ObjectName, base, name);
}

LONGLONG filetime_from(const struct timespec &ts) {
  return static_cast<LONGLONG>(ts.tv_sec) * 10000000LL + ts.tv_nsec / 100 + filetime_unix_epoch;
}

struct timespec timespec_from(LONGLONG filetime) {
  const LONGLONG since_1970 = filetime - filetime_unix_epoch;
  LONGLONG seconds = since_1970 / 10000000LL;
  LONGLONG rest = since_1970 % 10000000LL;
  if (rest < 0) {
    rest += 10000000LL;
    --seconds;
  }
  return {static_cast<time_t>(seconds), static_cast<long>(rest * 100)};
}

ULONG attributes_from(const struct stat &st) {
  ULONG attributes = S_ISDIR(st.st_mode) ? FILE_ATTRIBUTE_DIRECTORY : FILE_ATTRIBUTE_ARCHIVE;
  if ((st.st_mode & 0222) == 0) {
    attributes |= FILE_ATTRIBUTE_READONLY;
  }
  return attributes;
}

// Creation time: the birth time where the file system records it, else the change time.
LONGLONG creation_time(const std::string &path, int fd, const struct stat &st) {
  struct statx sx {};
  const int rc = fd >= 0 ? ::statx(fd, "", AT_EMPTY_PATH, STATX_BTIME, &sx)
                         : ::statx(AT_FDCWD, path.c_str(), 0, STATX_BTIME, &sx);
  if (rc == 0 && (sx.stx_mask & STATX_BTIME) != 0) {
    return filetime_from(
        {static_cast<time_t>(sx.stx_btime.tv_sec), static_cast<long>(sx.stx_btime.tv_nsec)});
  }
  return filetime_from(st.st_ctim);
}

void fill_network_open(const std::string &path, int fd, const struct stat &st,
                       FILE_NETWORK_OPEN_INFORMATION *info) {
  info->CreationTime.QuadPart = creation_time(path, fd, st);
  info->LastAccessTime.QuadPart = filetime_from(st.st_atim);
  info->LastWriteTime.QuadPart = filetime_from(st.st_mtim);
  info->ChangeTime.QuadPart = filetime_from(st.st_ctim);
  info->AllocationSize.QuadPart = static_cast<LONGLONG>(st.st_blocks) * 512;
  info->EndOfFile.QuadPart = S_ISDIR(st.st_mode) ? 0 : static_cast<LONGLONG>(st.st_size);
  info->FileAttributes = attributes_from(st);
}

// Opens (or creates) the Linux file for ZwCreateFile once its name is resolved and the request
// validated. Called with files_lock held.
NTSTATUS open_resolved(const resolved_name &name, ACCESS_MASK access, ULONG file_attributes,
                       ULONG share, ULONG disposition, ULONG options, file_object *&out,
                       ULONG_PTR &information) {
  const bool want_directory = (options & FILE_DIRECTORY_FILE) != 0;
  const bool truncating =
      name.exists && (disposition == FILE_SUPERSEDE || disposition == FILE_OVERWRITE ||
                      disposition == FILE_OVERWRITE_IF);
  file_node *node = nullptr;
  if (name.exists) {
    const bool is_directory = S_ISDIR(name.st.st_mode);
    if (disposition == FILE_CREATE) {
      return STATUS_OBJECT_NAME_COLLISION;
    }
    if (is_directory && ((options & FILE_NON_DIRECTORY_FILE) != 0 || truncating)) {
      return STATUS_FILE_IS_A_DIRECTORY;
    }
    if (!is_directory && want_directory) {
      return STATUS_NOT_A_DIRECTORY;
    }
    if (!is_directory && !S_ISREG(name.st.st_mode)) {
      return STATUS_ACCESS_DENIED; // devices, sockets and pipes are not files here
    }
    node = find_node(name.st);
    if (node != nullptr && node->delete_pending) {
      return STATUS_DELETE_PENDING;
    }
    if (node != nullptr && !share_allows(*node, access, share)) {
      return STATUS_SHARING_VIOLATION;
    }
    if ((options & FILE_DELETE_ON_CLOSE) != 0 && !is_directory && (name.st.st_mode & 0222) == 0) {
      return STATUS_CANNOT_DELETE;
    }
  } else if (disposition == FILE_OPEN || disposition == FILE_OVERWRITE) {
    return STATUS_OBJECT_NAME_NOT_FOUND;
  }

  const bool reads = (access & (read_access | FILE_READ_ATTRIBUTES | FILE_READ_EA)) != 0;
  const bool writes = (access & write_access) != 0 || truncating;
  int flags = O_CLOEXEC;
  if ((options & FILE_WRITE_THROUGH) != 0) {
    flags |= O_DSYNC;
  }
  const bool directory = want_directory || (name.exists && S_ISDIR(name.st.st_mode));
  if (directory) {
    flags |= O_RDONLY | O_DIRECTORY;
  } else {
    flags |= writes ? (reads ? O_RDWR : O_WRONLY) : O_RDONLY;
  }
  int fd = -1;
  if (!name.exists) {
    if (want_directory) {
      if (::mkdir(name.path.c_str(), 0777) != 0) {
        return status_from_errno(errno);
      }
      fd = ::open(name.path.c_str(), flags);
    } else {
      const mode_t mode = (file_attributes & FILE_ATTRIBUTE_READONLY) != 0 ? 0444 : 0666;
      fd = ::open(name.path.c_str(), flags | O_CREAT | O_EXCL, mode);
    }
    information = FILE_CREATED;
  } else {
    fd = ::open(name.path.c_str(), flags);
    if (fd < 0 && errno == EACCES && !writes && !directory) {
      // Attribute-only access to a file the process may not read.
      fd = ::open(name.path.c_str(), O_PATH | O_CLOEXEC);
    }
    information = truncating ? (disposition == FILE_SUPERSEDE ? FILE_SUPERSEDED : FILE_OVERWRITTEN)
                             : FILE_OPENED;
  }
  if (fd < 0) {
    return status_from_errno(errno);
  }
  struct stat st {};
  if (::fstat(fd, &st) != 0 || (truncating && ::ftruncate(fd, 0) != 0)) {
    const NTSTATUS status = status_from_errno(errno);
    ::close(fd);
    return status;
  }
  if (node == nullptr) {
    node = find_node(st);
  }
  if (node == nullptr) {
    node = new file_node;
    node->device = st.st_dev;
    node->inode = st.st_ino;
    node->path = name.path;
    node->directory = S_ISDIR(st.st_mode);
    nodes()[{st.st_dev, st.st_ino}] = node;
  }
  auto *file = new file_object;
  file->header.Type = 5; // IO_TYPE_FILE
  file->header.Size = static_cast<CSHORT>(sizeof(FILE_OBJECT));
  file->fd = fd;
  file->access = access;
  file->share = share;
  file->options = options;
  file->delete_on_close = (options & FILE_DELETE_ON_CLOSE) != 0;
  file->node = node;
  node->opens.push_back(file);
  out = file;
  return STATUS_SUCCESS;
}

NTSTATUS create_file(PHANDLE handle, ACCESS_MASK desired_access, POBJECT_ATTRIBUTES attributes,
                     PIO_STATUS_BLOCK iosb, ULONG file_attributes, ULONG share, ULONG disposition,
                     ULONG options, PVOID ea_buffer, ULONG ea_length) {
  if (handle == nullptr || iosb == nullptr || !NT_SUCCESS(validate_object_attributes(attributes))) {
    return STATUS_INVALID_PARAMETER;
  }
  const ACCESS_MASK access = map_generic_access(desired_access);
  if ((file_attributes & ~static_cast<ULONG>(FILE_ATTRIBUTE_VALID_FLAGS)) != 0 ||
      (share & ~static_cast<ULONG>(FILE_SHARE_VALID_FLAGS)) != 0 ||
      disposition > FILE_MAXIMUM_DISPOSITION ||
      (options & ~static_cast<ULONG>(FILE_VALID_OPTION_FLAGS)) != 0 ||
      (options & synchronous_options) == synchronous_options ||
      ((options & synchronous_options) != 0 && (access & SYNCHRONIZE) == 0) ||
      ((options & FILE_DIRECTORY_FILE) != 0 && (options & FILE_NON_DIRECTORY_FILE) != 0) ||
      ((options & FILE_DIRECTORY_FILE) != 0 && disposition != FILE_CREATE &&
       disposition != FILE_OPEN && disposition != FILE_OPEN_IF) ||
      ((options & FILE_DELETE_ON_CLOSE) != 0 && (access & DELETE) == 0)) {
    return STATUS_INVALID_PARAMETER;
  }
  if ((options & FILE_OPEN_BY_FILE_ID) != 0) {
    return STATUS_NOT_SUPPORTED; // names only: Linux cannot open by inode number
  }
  if (ea_buffer != nullptr && ea_length != 0) {
    return STATUS_EAS_NOT_SUPPORTED;
  }
  resolved_name name;
  if (NTSTATUS status = resolve_attributes(attributes, name); !NT_SUCCESS(status)) {
    return status;
  }
  file_object *file = nullptr;
  ULONG_PTR information = 0;
  {
    std::lock_guard guard(files_lock);
    if (NTSTATUS status = open_resolved(name, access, file_attributes, share, disposition, options,
                                        file, information);
        !NT_SUCCESS(status)) {
      return status;
    }
  }
  ob_insert_object(file, file_type_pointer, 1);
  *handle = ob_open_handle(file);
  ob_dereference(file, nullptr); // the handle, if there is one, holds the only reference
  if (*handle == nullptr) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  iosb->Status = STATUS_SUCCESS;
  iosb->Information = information;
  return STATUS_SUCCESS;
}

// Checks what ZwReadFile and ZwWriteFile share: Event, ApcRoutine and the IO_STATUS_BLOCK.
NTSTATUS validate_transfer(HANDLE event, PIO_APC_ROUTINE apc, PIO_STATUS_BLOCK iosb, PVOID buffer,
                           ULONG length) {
  if (iosb == nullptr || apc != nullptr || (buffer == nullptr && length != 0)) {
    return STATUS_INVALID_PARAMETER;
  }
  if (event != nullptr) {
    // uwsk has no event handles (kernel callers wait on KEVENTs), so no handle names one.
    PVOID body = nullptr;
    if (!NT_SUCCESS(ObReferenceObjectByHandle(event, 0, nullptr, KernelMode, &body, nullptr))) {
      return STATUS_INVALID_HANDLE;
    }
    ObDereferenceObject(body);
    return STATUS_OBJECT_TYPE_MISMATCH;
  }
  return STATUS_SUCCESS;
}

// Where a transfer starts. `append` is set for writes at the end of the file.
NTSTATUS transfer_offset(const file_object &file, PLARGE_INTEGER byte_offset, bool write,
                         ULONG length, LONGLONG &offset, bool &append) {
  const bool synchronous = (file.options & synchronous_options) != 0;
  append = false;
  if (write && (file.access & FILE_WRITE_DATA) == 0) {
    append = true; // FILE_APPEND_DATA alone: every write goes to the end
  } else if (byte_offset == nullptr || (byte_offset->HighPart == -1 &&
                                        byte_offset->LowPart == FILE_USE_FILE_POINTER_POSITION)) {
    if (!synchronous) {
      return STATUS_INVALID_PARAMETER;
    }
    offset = file.position;
  } else if (write && byte_offset->HighPart == -1 &&
             byte_offset->LowPart == FILE_WRITE_TO_END_OF_FILE) {
    append = true;
  } else if (byte_offset->QuadPart < 0) {
    return STATUS_INVALID_PARAMETER;
  } else {
    offset = byte_offset->QuadPart;
  }
  if ((file.options & FILE_NO_INTERMEDIATE_BUFFERING) != 0 &&
      ((!append && offset % sector_size != 0) || length % sector_size != 0)) {
    return STATUS_INVALID_PARAMETER;
  }
  return STATUS_SUCCESS;
}

NTSTATUS transfer(HANDLE handle, HANDLE event, PIO_APC_ROUTINE apc, PIO_STATUS_BLOCK iosb,
                  PVOID buffer, ULONG length, PLARGE_INTEGER byte_offset, bool write) {
  if (NTSTATUS status = validate_transfer(event, apc, iosb, buffer, length); !NT_SUCCESS(status)) {
    return status;
  }
  file_reference ref;
  if (NTSTATUS status = reference_file(handle, &ref.file); !NT_SUCCESS(status)) {
    return status;
  }
  file_object &file = *ref.file;
  if (file.node->directory) {
    return STATUS_INVALID_DEVICE_REQUEST;
  }
  if ((file.access & (write ? write_access : read_access)) == 0) {
    return STATUS_ACCESS_DENIED;
  }
  std::lock_guard guard(file.lock);
  LONGLONG offset = 0;
  bool append = false;
  if (NTSTATUS status = transfer_offset(file, byte_offset, write, length, offset, append);
      !NT_SUCCESS(status)) {
    return status;
  }
  std::unique_lock<std::mutex> append_guard;
  if (append) {
    append_guard = std::unique_lock(file.node->append_lock);
    struct stat st {};
    if (::fstat(file.fd, &st) != 0) {
      return status_from_errno(errno);
    }
    offset = st.st_size;
  }
  auto *bytes = static_cast<char *>(buffer);
  ULONG done = 0;
  NTSTATUS status = STATUS_SUCCESS;
  while (done < length) {
    const ssize_t n = write ? ::pwrite(file.fd, bytes + done, length - done, offset + done)
                            : ::pread(file.fd, bytes + done, length - done, offset + done);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      status = errno == EISDIR ? STATUS_INVALID_DEVICE_REQUEST : status_from_errno(errno);
      break;
    }
    if (n == 0) {
      break; // end of file (reads only)
    }
    done += static_cast<ULONG>(n);
  }
  if (NT_SUCCESS(status) && !write && done == 0 && length != 0) {
    status = STATUS_END_OF_FILE;
  }
  if (NT_SUCCESS(status) && (file.options & synchronous_options) != 0) {
    file.position = offset + done;
  }
  iosb->Status = status;
  iosb->Information = NT_SUCCESS(status) ? done : 0;
  return status;
}

NTSTATUS query_information(file_object &file, PVOID info, ULONG length,
                           FILE_INFORMATION_CLASS info_class, ULONG_PTR &written) {
  auto need = [&](ULONG size) { return length < size ? STATUS_INFO_LENGTH_MISMATCH : 0; };
  struct stat st {};
  if (::fstat(file.fd, &st) != 0) {
    return status_from_errno(errno);
  }
  switch (info_class) {
  case FileBasicInformation: {
    if (NTSTATUS status = need(sizeof(FILE_BASIC_INFORMATION))) {
      return status;
    }
    if ((file.access & FILE_READ_ATTRIBUTES) == 0) {
      return STATUS_ACCESS_DENIED;
    }
    FILE_NETWORK_OPEN_INFORMATION all{};
    fill_network_open({}, file.fd, st, &all);
    auto *basic = static_cast<FILE_BASIC_INFORMATION *>(info);
    std::memset(basic, 0, sizeof *basic);
    basic->CreationTime = all.CreationTime;
    basic->LastAccessTime = all.LastAccessTime;
    basic->LastWriteTime = all.LastWriteTime;
    basic->ChangeTime = all.ChangeTime;
    basic->FileAttributes = all.FileAttributes;
    written = sizeof(FILE_BASIC_INFORMATION);
    return STATUS_SUCCESS;
  }
  case FileStandardInformation: {
    if (NTSTATUS status = need(sizeof(FILE_STANDARD_INFORMATION))) {
      return status;
    }
    auto *standard = static_cast<FILE_STANDARD_INFORMATION *>(info);
    std::memset(standard, 0, sizeof *standard);
    standard->AllocationSize.QuadPart = static_cast<LONGLONG>(st.st_blocks) * 512;
    standard->EndOfFile.QuadPart = S_ISDIR(st.st_mode) ? 0 : static_cast<LONGLONG>(st.st_size);
    standard->NumberOfLinks = static_cast<ULONG>(st.st_nlink);
    {
      std::lock_guard guard(files_lock);
      standard->DeletePending = file.node->delete_pending ? TRUE : FALSE;
    }
    standard->Directory = S_ISDIR(st.st_mode) ? TRUE : FALSE;
    written = sizeof(FILE_STANDARD_INFORMATION);
    return STATUS_SUCCESS;
  }
  case FileInternalInformation: {
    if (NTSTATUS status = need(sizeof(FILE_INTERNAL_INFORMATION))) {
      return status;
    }
    static_cast<FILE_INTERNAL_INFORMATION *>(info)->IndexNumber.QuadPart =
        static_cast<LONGLONG>(st.st_ino);
    written = sizeof(FILE_INTERNAL_INFORMATION);
    return STATUS_SUCCESS;
  }
  case FilePositionInformation: {
    if (NTSTATUS status = need(sizeof(FILE_POSITION_INFORMATION))) {
      return status;
    }
    std::lock_guard guard(file.lock);
    static_cast<FILE_POSITION_INFORMATION *>(info)->CurrentByteOffset.QuadPart = file.position;
    written = sizeof(FILE_POSITION_INFORMATION);
    return STATUS_SUCCESS;
  }
  case FileNetworkOpenInformation: {
    if (NTSTATUS status = need(sizeof(FILE_NETWORK_OPEN_INFORMATION))) {
      return status;
    }
    if ((file.access & FILE_READ_ATTRIBUTES) == 0) {
      return STATUS_ACCESS_DENIED;
    }
    auto *open = static_cast<FILE_NETWORK_OPEN_INFORMATION *>(info);
    std::memset(open, 0, sizeof *open);
    fill_network_open({}, file.fd, st, open);
    written = sizeof(FILE_NETWORK_OPEN_INFORMATION);
    return STATUS_SUCCESS;
  }
  default:
    return STATUS_INVALID_INFO_CLASS;
  }
}

// Marks the file for deletion (or clears the mark), as FileDispositionInformation does.
NTSTATUS set_delete_pending(file_object &file, bool remove, bool ignore_readonly) {
  if ((file.access & DELETE) == 0) {
    return STATUS_ACCESS_DENIED;
  }
  std::lock_guard guard(files_lock);
  file_node &node = *file.node;
  if (remove) {
    if (node.directory && !directory_is_empty(node.path)) {
      return STATUS_DIRECTORY_NOT_EMPTY;
    }
    struct stat st {};
    if (!node.directory && !ignore_readonly && ::fstat(file.fd, &st) == 0 &&
        (st.st_mode & 0222) == 0) {
      return STATUS_CANNOT_DELETE;
    }
  }
  node.delete_pending = remove;
  return STATUS_SUCCESS;
}

NTSTATUS rename_file(file_object &file, const FILE_RENAME_INFORMATION *info, ULONG length) {
  if (length < offsetof(FILE_RENAME_INFORMATION, FileName) ||
      info->FileNameLength > length - offsetof(FILE_RENAME_INFORMATION, FileName) ||
      info->FileNameLength == 0 || info->FileNameLength % sizeof(WCHAR) != 0 ||
      info->FileNameLength > MAXUSHORT - 1) {
    return STATUS_INVALID_PARAMETER;
  }
  if ((file.access & DELETE) == 0) {
    return STATUS_ACCESS_DENIED;
  }
  UNICODE_STRING target_name;
  target_name.Length = static_cast<USHORT>(info->FileNameLength);
  target_name.MaximumLength = target_name.Length;
  target_name.Buffer = const_cast<PWCH>(info->FileName);
  std::string base;
  if (info->RootDirectory != nullptr) {
    OBJECT_ATTRIBUTES root_only;
    InitializeObjectAttributes(&root_only, nullptr, 0, info->RootDirectory, nullptr);
    if (NTSTATUS status = root_directory_path(&root_only, base); !NT_SUCCESS(status)) {
      return status;
    }
  } else if (info->FileName[0] != u'\\') {
    // A bare name renames within the file's directory.
    for (ULONG i = 0; i < info->FileNameLength / sizeof(WCHAR); ++i) {
      if (info->FileName[i] == u'\\') {
        return STATUS_INVALID_PARAMETER;
      }
    }
    std::lock_guard guard(files_lock);
    base = file.node->path.substr(0, file.node->path.rfind('/'));
  }
  resolved_name target;
  if (NTSTATUS status = resolve_file_name(&target_name, base, target); !NT_SUCCESS(status)) {
    return status;
  }
  const bool replace = (info->Flags & 0x1) != 0; // ReplaceIfExists / FILE_RENAME_REPLACE_IF_EXISTS
  std::lock_guard guard(files_lock);
  file_node &node = *file.node;
  if (target.exists && !(target.st.st_dev == node.device && target.st.st_ino == node.inode)) {
    if (!replace) {
      return STATUS_OBJECT_NAME_COLLISION;
    }
    if (S_ISDIR(target.st.st_mode) || find_node(target.st) != nullptr) {
      return STATUS_ACCESS_DENIED;
    }
  }
  if (::rename(node.path.c_str(), target.path.c_str()) != 0) {
    return errno == EXDEV ? STATUS_NOT_SAME_DEVICE : status_from_errno(errno);
  }
  node.path = target.path;
  return STATUS_SUCCESS;
}

NTSTATUS set_information(file_object &file, PVOID info, ULONG length,
                         FILE_INFORMATION_CLASS info_class) {
  auto need = [&](ULONG size) { return length < size ? STATUS_INFO_LENGTH_MISMATCH : 0; };
  switch (info_class) {
  case FilePositionInformation: {
    if (NTSTATUS status = need(sizeof(FILE_POSITION_INFORMATION))) {
      return status;
    }
    const LONGLONG position =
        static_cast<FILE_POSITION_INFORMATION *>(info)->CurrentByteOffset.QuadPart;
    if (position < 0 ||
        ((file.options & FILE_NO_INTERMEDIATE_BUFFERING) != 0 && position % sector_size != 0)) {
      return STATUS_INVALID_PARAMETER;
    }
    std::lock_guard guard(file.lock);
    file.position = position;
    return STATUS_SUCCESS;
  }
  case FileEndOfFileInformation:
  case FileAllocationInformation: {
    if (NTSTATUS status = need(sizeof(LARGE_INTEGER))) {
      return status;
    }
    const LONGLONG size = static_cast<LARGE_INTEGER *>(info)->QuadPart;
    if (file.node->directory || size < 0) {
      return STATUS_INVALID_PARAMETER;
    }
    if ((file.access & FILE_WRITE_DATA) == 0) {
      return STATUS_ACCESS_DENIED;
    }
    std::lock_guard guard(file.lock);
    struct stat st {};
    if (::fstat(file.fd, &st) != 0) {
      return status_from_errno(errno);
    }
    if (info_class == FileEndOfFileInformation || size < st.st_size) {
      return ::ftruncate(file.fd, size) == 0 ? STATUS_SUCCESS : status_from_errno(errno);
    }
    // Reserving space is advice: a file system without fallocate still succeeds.
    if (::fallocate(file.fd, FALLOC_FL_KEEP_SIZE, 0, size) != 0 && errno == ENOSPC) {
      return STATUS_DISK_FULL;
    }
    return STATUS_SUCCESS;
  }
  case FileDispositionInformation: {
    if (NTSTATUS status = need(sizeof(FILE_DISPOSITION_INFORMATION))) {
      return status;
    }
    return set_delete_pending(file, static_cast<FILE_DISPOSITION_INFORMATION *>(info)->DeleteFile,
                              false);
  }
  case FileDispositionInformationEx: {
    if (NTSTATUS status = need(sizeof(FILE_DISPOSITION_INFORMATION_EX))) {
      return status;
    }
    const ULONG flags = static_cast<FILE_DISPOSITION_INFORMATION_EX *>(info)->Flags;
    if ((flags & ~static_cast<ULONG>(0x1F)) != 0) {
      return STATUS_INVALID_PARAMETER;
    }
    const bool remove = (flags & FILE_DISPOSITION_DELETE) != 0;
    if ((flags & FILE_DISPOSITION_ON_CLOSE) != 0) {
      if ((file.access & DELETE) == 0) {
        return STATUS_ACCESS_DENIED;
      }
      std::lock_guard guard(files_lock);
      file.delete_on_close = remove;
      return STATUS_SUCCESS;
    }
    return set_delete_pending(file, remove, (flags & FILE_DISPOSITION_IGNORE_READONLY_ATTRIBUTE));
  }
  case FileBasicInformation: {
    if (NTSTATUS status = need(sizeof(FILE_BASIC_INFORMATION))) {
      return status;
    }
    if ((file.access & FILE_WRITE_ATTRIBUTES) == 0) {
      return STATUS_ACCESS_DENIED;
    }
    const auto *basic = static_cast<FILE_BASIC_INFORMATION *>(info);
    if ((basic->FileAttributes & FILE_ATTRIBUTE_DIRECTORY) != 0 && !file.node->directory) {
      return STATUS_INVALID_PARAMETER;
    }
    std::string path;
    {
      std::lock_guard guard(files_lock);
      path = file.node->path;
    }
    // 0 leaves a time as it is, and so does -1 (which on Windows also stops later updates).
    struct timespec times[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
    if (basic->LastAccessTime.QuadPart > 0) {
      times[0] = timespec_from(basic->LastAccessTime.QuadPart);
    }
    if (basic->LastWriteTime.QuadPart > 0) {
      times[1] = timespec_from(basic->LastWriteTime.QuadPart);
    }
    if (::utimensat(AT_FDCWD, path.c_str(), times, 0) != 0) {
      return status_from_errno(errno);
    }
    if (basic->FileAttributes != 0) {
      struct stat st {};
      if (::stat(path.c_str(), &st) != 0) {
        return status_from_errno(errno);
      }
      mode_t mode = st.st_mode & 07777;
      mode =
          (basic->FileAttributes & FILE_ATTRIBUTE_READONLY) != 0 ? (mode & ~0222) : (mode | 0200);
      if (::chmod(path.c_str(), mode) != 0) {
        return status_from_errno(errno);
      }
    }
    return STATUS_SUCCESS;
  }
  case FileRenameInformation:
  case FileRenameInformationEx:
    if (NTSTATUS status = need(sizeof(FILE_RENAME_INFORMATION))) {
      return status;
    }
    return rename_file(file, static_cast<FILE_RENAME_INFORMATION *>(info), length);
  default:
    return STATUS_INVALID_INFO_CLASS;
  }
}

void require_passive(const char *what, const void *caller) {
  require_irql_at_most(PASSIVE_LEVEL, what, nullptr, caller);
}

// ZwQueryInformationFile and ZwSetInformationFile: the argument checks and the handle reference
// around `act(file, information)`, a query or a set of one information class, whose status and
// Information go to the IO_STATUS_BLOCK when it succeeds.
template <typename Act>
NTSTATUS information_call(HANDLE handle, PIO_STATUS_BLOCK io, PVOID info, Act act) {
  if (io == nullptr || info == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  file_reference ref;
  if (NTSTATUS status = reference_file(handle, &ref.file); !NT_SUCCESS(status)) {
    return status;
  }
  ULONG_PTR information = 0;
  const NTSTATUS status = act(*ref.file, information);
  if (NT_SUCCESS(status)) {
    io->Status = status;
    io->Information = information;
  }
  return status;
}

} // namespace
} // namespace uwsk::nt

using namespace uwsk::nt;

extern "C" {
POBJECT_TYPE *IoFileObjectType = &file_type_pointer;
}

// ZwCreateFile: opens or creates a file or directory below the file-system root (km/file.h).
extern "C" NTSTATUS NTAPI ZwCreateFile(PHANDLE FileHandle, ACCESS_MASK DesiredAccess,
                                       POBJECT_ATTRIBUTES ObjectAttributes,
                                       PIO_STATUS_BLOCK IoStatusBlock,
                                       PLARGE_INTEGER AllocationSize, ULONG FileAttributes,
                                       ULONG ShareAccess, ULONG CreateDisposition,
                                       ULONG CreateOptions, PVOID EaBuffer, ULONG EaLength) {
  require_passive("ZwCreateFile", __builtin_return_address(0));
  (void)AllocationSize; // a hint; Linux files grow as written
  return create_file(FileHandle, DesiredAccess, ObjectAttributes, IoStatusBlock, FileAttributes,
                     ShareAccess, CreateDisposition, CreateOptions, EaBuffer, EaLength);
}

// ZwOpenFile: ZwCreateFile with FILE_OPEN.
extern "C" NTSTATUS NTAPI ZwOpenFile(PHANDLE FileHandle, ACCESS_MASK DesiredAccess,
                                     POBJECT_ATTRIBUTES ObjectAttributes,
                                     PIO_STATUS_BLOCK IoStatusBlock, ULONG ShareAccess,
                                     ULONG OpenOptions) {
  require_passive("ZwOpenFile", __builtin_return_address(0));
  return create_file(FileHandle, DesiredAccess, ObjectAttributes, IoStatusBlock, 0, ShareAccess,
                     FILE_OPEN, OpenOptions, nullptr, 0);
}

// ZwReadFile: reads at ByteOffset (or the current position of a synchronous handle);
// STATUS_END_OF_FILE when nothing is left to read.
extern "C" NTSTATUS NTAPI ZwReadFile(HANDLE FileHandle, HANDLE Event, PIO_APC_ROUTINE ApcRoutine,
                                     PVOID ApcContext, PIO_STATUS_BLOCK IoStatusBlock, PVOID Buffer,
                                     ULONG Length, PLARGE_INTEGER ByteOffset, PULONG Key) {
  require_passive("ZwReadFile", __builtin_return_address(0));
  (void)ApcContext;
  (void)Key; // byte-range locks are not kept, so the key matches any
  return transfer(FileHandle, Event, ApcRoutine, IoStatusBlock, Buffer, Length, ByteOffset, false);
}

// ZwWriteFile: writes at ByteOffset, the current position of a synchronous handle, or the end
// of the file (FILE_WRITE_TO_END_OF_FILE, or a handle with FILE_APPEND_DATA but no
// FILE_WRITE_DATA).
extern "C" NTSTATUS NTAPI ZwWriteFile(HANDLE FileHandle, HANDLE Event, PIO_APC_ROUTINE ApcRoutine,
                                      PVOID ApcContext, PIO_STATUS_BLOCK IoStatusBlock,
                                      PVOID Buffer, ULONG Length, PLARGE_INTEGER ByteOffset,
                                      PULONG Key) {
  require_passive("ZwWriteFile", __builtin_return_address(0));
  (void)ApcContext;
  (void)Key;
  return transfer(FileHandle, Event, ApcRoutine, IoStatusBlock, Buffer, Length, ByteOffset, true);
}

// ZwQueryInformationFile: FileBasicInformation, FileStandardInformation,
// FileInternalInformation, FilePositionInformation and FileNetworkOpenInformation.
extern "C" NTSTATUS NTAPI ZwQueryInformationFile(HANDLE FileHandle, PIO_STATUS_BLOCK IoStatusBlock,
                                                 PVOID FileInformation, ULONG Length,
                                                 FILE_INFORMATION_CLASS FileInformationClass) {
  require_passive("ZwQueryInformationFile", __builtin_return_address(0));
  return information_call(
      FileHandle, IoStatusBlock, FileInformation, [&](file_object &file, ULONG_PTR &written) {
        return query_information(file, FileInformation, Length, FileInformationClass, written);
      });
}

// ZwSetInformationFile: FilePositionInformation, FileEndOfFileInformation,
// FileAllocationInformation, FileDispositionInformation(Ex), FileBasicInformation (times and
// the read-only attribute) and FileRenameInformation(Ex).
extern "C" NTSTATUS NTAPI ZwSetInformationFile(HANDLE FileHandle, PIO_STATUS_BLOCK IoStatusBlock,
                                               PVOID FileInformation, ULONG Length,
                                               FILE_INFORMATION_CLASS FileInformationClass) {
  require_passive("ZwSetInformationFile", __builtin_return_address(0));
  return information_call(
      FileHandle, IoStatusBlock, FileInformation, [&](file_object &file, ULONG_PTR &) {
        return set_information(file, FileInformation, Length, FileInformationClass);
      });
}

// ZwFlushBuffersFile: writes the file's data and metadata to the disk (fsync).
extern "C" NTSTATUS NTAPI ZwFlushBuffersFile(HANDLE FileHandle, PIO_STATUS_BLOCK IoStatusBlock) {
  require_passive("ZwFlushBuffersFile", __builtin_return_address(0));
  if (IoStatusBlock == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  file_reference ref;
  if (NTSTATUS status = reference_file(FileHandle, &ref.file); !NT_SUCCESS(status)) {
    return status;
  }
  if (!ref.file->node->directory && (ref.file->access & write_access) == 0) {
    return STATUS_ACCESS_DENIED;
  }
  if (::fsync(ref.file->fd) != 0) {
    return status_from_errno(errno);
  }
  IoStatusBlock->Status = STATUS_SUCCESS;
  IoStatusBlock->Information = 0;
  return STATUS_SUCCESS;
}

// ZwDeleteFile: deletes a file or an empty directory; while it is open, the deletion is
// pending and happens when the last handle is closed.
extern "C" NTSTATUS NTAPI ZwDeleteFile(POBJECT_ATTRIBUTES ObjectAttributes) {
  require_passive("ZwDeleteFile", __builtin_return_address(0));
  resolved_name name;
  if (NTSTATUS status = resolve_attributes(ObjectAttributes, name); !NT_SUCCESS(status)) {
    return status;
  }
  if (!name.exists) {
    return STATUS_OBJECT_NAME_NOT_FOUND;
  }
  std::lock_guard guard(files_lock);
  const bool directory = S_ISDIR(name.st.st_mode);
  if (directory && !directory_is_empty(name.path)) {
    return STATUS_DIRECTORY_NOT_EMPTY;
  }
  if (!directory && (name.st.st_mode & 0222) == 0) {
    return STATUS_CANNOT_DELETE;
  }
  if (file_node *node = find_node(name.st); node != nullptr) {
    if (node->delete_pending) {
      return STATUS_DELETE_PENDING;
    }
    if (!share_allows(*node, DELETE, FILE_SHARE_READ | FILE_SHARE_WRITE | FILE_SHARE_DELETE)) {
      return STATUS_SHARING_VIOLATION;
    }
    node->delete_pending = true;
    return STATUS_SUCCESS;
  }
  const int rc = directory ? ::rmdir(name.path.c_str()) : ::unlink(name.path.c_str());
  return rc == 0 ? STATUS_SUCCESS : status_from_errno(errno);
}

// ZwQueryFullAttributesFile: the times, sizes and attributes of a file named, without opening it.
extern "C" NTSTATUS NTAPI ZwQueryFullAttributesFile(
    POBJECT_ATTRIBUTES ObjectAttributes, PFILE_NETWORK_OPEN_INFORMATION FileInformation) {
  require_passive("ZwQueryFullAttributesFile", __builtin_return_address(0));
  if (FileInformation == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  resolved_name name;
  if (NTSTATUS status = resolve_attributes(ObjectAttributes, name); !NT_SUCCESS(status)) {
    return status;
  }
  if (!name.exists) {
    return STATUS_OBJECT_NAME_NOT_FOUND;
  }
  std::memset(FileInformation, 0, sizeof *FileInformation);
  fill_network_open(name.path, -1, name.st, FileInformation);
  return STATUS_SUCCESS;
}
