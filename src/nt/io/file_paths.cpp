// The file-system root and the resolution of Windows file names below it (file_paths.hpp).
#include "nt/io/file_paths.hpp"

#include <cerrno>
#include <cstdlib>
#include <dirent.h>
#include <mutex>
#include <string_view>
#include <unistd.h>
#include <vector>

#include <uwsk/log.h>

#include "nt/rtl/utf.hpp"

namespace uwsk::nt {
namespace {

// The Windows directory below the drive, as \SystemRoot names it.
constexpr const char *system_root_directory = "C/Windows";

bool equal_ignoring_ascii_case(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') {
      x = static_cast<char>(x - 'A' + 'a');
    }
    if (y >= 'A' && y <= 'Z') {
      y = static_cast<char>(y - 'A' + 'a');
    }
    if (x != y) {
      return false;
    }
  }
  return true;
}

void make_directory(const std::string &path) {
  if (::mkdir(path.c_str(), 0777) != 0 && errno != EEXIST) {
    uwsk_log_message("file", "cannot create %s: errno %d", path.c_str(), errno);
  }
}

// Creates the root and drive C: with the directories drivers expect to find there.
void prepare_root(const std::string &root) {
  static std::mutex lock;
  static std::string prepared;
  std::lock_guard guard(lock);
  if (prepared == root) {
    return;
  }
  for (const char *sub : {"", "/C", "/C/Windows", "/C/Windows/Temp", "/C/Windows/System32",
                          "/C/Windows/System32/drivers"}) {
    make_directory(root + sub);
  }
  uwsk_log_message("file", "file-system root (drive C: is %s/C)", root.c_str());
  prepared = root;
}

// A component as Windows accepts it in a file name: not empty, not "." or "..", none of the
// characters NTFS refuses, at most 255 UTF-16 units.
bool valid_component(const std::u16string &component) {
  if (component.empty() || component.size() > 255 || component == u"." || component == u"..") {
    return false;
  }
  for (char16_t c : component) {
    if (c < 0x20 || c == u'"' || c == u'*' || c == u'/' || c == u':' || c == u'<' || c == u'>' ||
        c == u'?' || c == u'|') {
      return false;
    }
  }
  return true;
}

// The entry of directory `dir` named `name`: the exact name when it exists, else the first
// entry equal to it ignoring ASCII case; empty when there is none.
std::string find_entry(const std::string &dir, const std::string &name) {
  struct stat st {};
  if (::lstat((dir + "/" + name).c_str(), &st) == 0) {
    return name;
  }
  DIR *d = ::opendir(dir.c_str());
  if (d == nullptr) {
    return {};
  }
  std::string found;
  while (const dirent *entry = ::readdir(d)) {
    if (equal_ignoring_ascii_case(entry->d_name, name)) {
      found = entry->d_name;
      break;
    }
  }
  ::closedir(d);
  return found;
}

} // namespace

std::string file_system_root() {
  std::string root;
  if (const char *env = std::getenv("UWSK_ROOT"); env != nullptr && env[0] != '\0') {
    root = env;
    while (root.size() > 1 && root.back() == '/') {
      root.pop_back();
    }
  } else {
    const char *tmp = std::getenv("TMPDIR");
    root = std::string(tmp != nullptr && tmp[0] != '\0' ? tmp : "/tmp") + "/uwsk-root-" +
           std::to_string(::getpid());
  }
  prepare_root(root);
  return root;
}

NTSTATUS resolve_file_name(const UNICODE_STRING *name, const std::string &base,
                           resolved_name &out) {
  out = resolved_name{};
  std::u16string text;
  if (name != nullptr) {
    if ((name->Length & 1) != 0 || name->Length > name->MaximumLength ||
        (name->Length != 0 && name->Buffer == nullptr)) {
      return STATUS_INVALID_PARAMETER;
    }
    text.assign(reinterpret_cast<const char16_t *>(name->Buffer), name->Length / sizeof(WCHAR));
  }
  // Split at backslashes; a trailing one names the same file.
  std::vector<std::u16string> components;
  std::size_t start = 0;
  while (start <= text.size()) {
    std::size_t end = text.find(u'\\', start);
    if (end == std::u16string::npos) {
      end = text.size();
    }
    components.emplace_back(text, start, end - start);
    start = end + 1;
  }
  if (text.size() > 1 && text.back() == u'\\') {
    components.pop_back();
  }

  std::string dir;
  std::size_t first = 0;
  if (!base.empty()) {
    if (!text.empty() && text.front() == u'\\') {
      return STATUS_OBJECT_NAME_INVALID;
    }
    dir = base;
    if (text.empty()) {
      components.clear();
    }
  } else {
    if (text.empty() || text.front() != u'\\') {
      return text.empty() ? STATUS_OBJECT_NAME_INVALID : STATUS_OBJECT_PATH_SYNTAX_BAD;
    }
    // components[0] is the empty text before the leading backslash.
    const std::string top =
        components.size() > 1 ? utf::to_utf8(components[1].data(), components[1].size()) : "";
    if (equal_ignoring_ascii_case(top, "??") || equal_ignoring_ascii_case(top, "DosDevices") ||
        equal_ignoring_ascii_case(top, "GLOBAL??")) {
      if (components.size() < 3) {
        return STATUS_OBJECT_NAME_INVALID;
      }
      const std::u16string &drive = components[2];
      char16_t letter = drive.size() == 2 && drive[1] == u':' ? drive[0] : 0;
      if (letter >= u'a' && letter <= u'z') {
        letter = static_cast<char16_t>(letter - u'a' + u'A');
      }
      if (letter < u'A' || letter > u'Z') {
        return STATUS_OBJECT_PATH_NOT_FOUND; // not a drive: no such link in \??
      }
      if (components.size() == 3) {
        return STATUS_OBJECT_NAME_INVALID; // the volume itself, not a file on it
      }
      dir = file_system_root() + "/" + static_cast<char>(letter);
      first = 3;
      // "\??\C:\" names the drive's root directory.
      if (components.size() == 4 && components[3].empty()) {
        components.pop_back();
      }
    } else if (equal_ignoring_ascii_case(top, "SystemRoot")) {
      dir = file_system_root() + "/" + system_root_directory;
      first = 2;
    } else {
      return STATUS_OBJECT_PATH_NOT_FOUND;
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return STATUS_OBJECT_PATH_NOT_FOUND;
    }
  }

  for (std::size_t i = first; i < components.size(); ++i) {
    if (!valid_component(components[i])) {
      return STATUS_OBJECT_NAME_INVALID;
    }
  }
  if (first >= components.size()) {
    // The base directory itself.
    out.path = dir;
    out.exists = ::stat(dir.c_str(), &out.st) == 0;
    return out.exists ? STATUS_SUCCESS : STATUS_OBJECT_PATH_NOT_FOUND;
  }
  for (std::size_t i = first; i < components.size(); ++i) {
    const std::string wanted = utf::to_utf8(components[i].data(), components[i].size());
    const std::string found = find_entry(dir, wanted);
    const bool last = i + 1 == components.size();
    if (last) {
      out.path = dir + "/" + (found.empty() ? wanted : found);
      out.exists = !found.empty() && ::stat(out.path.c_str(), &out.st) == 0;
      return STATUS_SUCCESS;
    }
    struct stat st {};
    if (found.empty() || ::stat((dir + "/" + found).c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return STATUS_OBJECT_PATH_NOT_FOUND;
    }
    dir += "/" + found;
  }
  return STATUS_SUCCESS;
}

} // namespace uwsk::nt
