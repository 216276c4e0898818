// Windows object names of files (\??\C:\dir\name, \SystemRoot\...) -> Linux paths below the
// file-system root. See km/file.h for the mapping and docs/compatibility.md for what differs.
#pragma once

#include <wdm.h>

#include <string>
#include <sys/stat.h>

namespace uwsk::nt {

// The file-system root: $UWSK_ROOT when set, otherwise a directory made for the process
// (${TMPDIR:-/tmp}/uwsk-root-PID). The drive C: (C/, C/Windows/Temp, C/Windows/System32/drivers)
// is created below it on first use.
std::string file_system_root();

// Where a name leads. `path` is the Linux path of the file (for a missing file: the path it
// would be created at, its directory existing); `exists` says whether something is there, and
// `st` is its stat when it does.
struct resolved_name {
  std::string path;
  bool exists = false;
  struct stat st {};
};

// Resolves `name`, relative to the directory `base` when that is not empty (the Linux path of
// ObjectAttributes->RootDirectory), else as an absolute object name. Each existing component
// is found without regard to ASCII case. Returns STATUS_SUCCESS (also for a missing last
// component), STATUS_OBJECT_PATH_NOT_FOUND (a directory on the way is missing or is a file),
// STATUS_OBJECT_NAME_INVALID (an empty, "." or ".." component, a character a Windows name may
// not hold, a volume rather than a file), or STATUS_OBJECT_PATH_SYNTAX_BAD (no leading '\'
// without a root directory).
NTSTATUS resolve_file_name(const UNICODE_STRING *name, const std::string &base, resolved_name &out);

} // namespace uwsk::nt
