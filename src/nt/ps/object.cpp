// Object references (ObReferenceObject*, ObDereferenceObject*) and kernel handles (ZwClose,
// ObReferenceObjectByHandle). See object.hpp.
//
// Handles look like Windows kernel handles (high bit set, multiples of 4) and are never reused,
// so that a handle used after ZwClose is reported as invalid rather than finding a new object.
// AccessMode and DesiredAccess are accepted and not checked: every handle is a kernel handle
// with all access.
#include <wdm.h>

#include <cstdio>
#include <mutex>
#include <unordered_map>

#include "nt/bugcheck.hpp"
#include "nt/ke/kthread.hpp"
#include "nt/ke/violations.hpp"
#include "nt/ps/object.hpp"

namespace uwsk::nt {
namespace {

struct object_record {
  POBJECT_TYPE type;
  LONG_PTR references;
};

struct object_table {
  std::mutex lock;
  std::unordered_map<const void *, object_record> objects;
  std::unordered_map<ULONG_PTR, void *> handles;
  ULONG_PTR next_handle_index = 1;
};

object_table &table() {
  // Never destroyed: objects may be dereferenced by threads still running at exit.
  static auto *t = new object_table;
  return *t;
}

constexpr ULONG_PTR kernel_handle_bit = 0xFFFFFFFF80000000ULL;

[[noreturn]] void unknown_object(const char *what, const void *body, const void *caller) {
  char reason[200];
  std::snprintf(reason, sizeof reason,
                "%s(%p): not an object of the object manager (or already deleted: a reference "
                "was dropped once too often)",
                what, body);
  bugcheck(DRIVER_VERIFIER_DETECTED_VIOLATION, reason, ke_violation::object_not_referenced,
           reinterpret_cast<ULONG_PTR>(body), 0, reinterpret_cast<ULONG_PTR>(caller));
}

// The object behind a handle (with a new reference), or NULL. Pseudo-handles name the current
// thread and process.
void *reference_handle(HANDLE handle) {
  if (handle == NtCurrentThread()) {
    void *body = current_thread();
    ob_reference(body, nullptr);
    return body;
  }
  if (handle == NtCurrentProcess()) {
    void *body = system_process();
    ob_reference(body, nullptr);
    return body;
  }
  object_table &t = table();
  std::lock_guard lock(t.lock);
  auto it = t.handles.find(reinterpret_cast<ULONG_PTR>(handle));
  if (it == t.handles.end()) {
    return nullptr;
  }
  ++t.objects.at(it->second).references;
  return it->second;
}

NTSTATUS reference_by_handle(HANDLE handle, POBJECT_TYPE type, PVOID *object,
                             POBJECT_HANDLE_INFORMATION info) {
  if (object == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  *object = nullptr;
  void *body = reference_handle(handle);
  if (body == nullptr) {
    return STATUS_INVALID_HANDLE;
  }
  if (type != nullptr && ob_object_type(body) != type) {
    ob_dereference(body, nullptr);
    return STATUS_OBJECT_TYPE_MISMATCH;
  }
  if (info != nullptr) {
    info->HandleAttributes = OBJ_KERNEL_HANDLE;
    info->GrantedAccess = GENERIC_ALL;
  }
  *object = body;
  return STATUS_SUCCESS;
}

} // namespace

POBJECT_TYPE ob_create_type(const char *name, void (*delete_procedure)(void *body)) {
  return new _OBJECT_TYPE{name, delete_procedure};
}

void ob_insert_object(void *body, POBJECT_TYPE type, LONG_PTR references) {
  object_table &t = table();
  std::lock_guard lock(t.lock);
  t.objects[body] = object_record{type, references};
}

POBJECT_TYPE ob_object_type(const void *body) {
  object_table &t = table();
  std::lock_guard lock(t.lock);
  auto it = t.objects.find(body);
  return it == t.objects.end() ? nullptr : it->second.type;
}

LONG_PTR ob_reference(void *body, const void *caller) {
  object_table &t = table();
  std::unique_lock lock(t.lock);
  auto it = t.objects.find(body);
  if (it == t.objects.end()) {
    lock.unlock();
    unknown_object("ObReferenceObject", body, caller);
  }
  return ++it->second.references;
}

LONG_PTR ob_dereference(void *body, const void *caller) {
  object_table &t = table();
  std::unique_lock lock(t.lock);
  auto it = t.objects.find(body);
  if (it == t.objects.end()) {
    lock.unlock();
    unknown_object("ObDereferenceObject", body, caller);
  }
  LONG_PTR left = --it->second.references;
  if (left > 0) {
    return left;
  }
  POBJECT_TYPE type = it->second.type;
  t.objects.erase(it);
  lock.unlock();
  if (type->delete_procedure != nullptr) {
    type->delete_procedure(body);
  }
  return 0;
}

HANDLE ob_open_handle(void *body) {
  object_table &t = table();
  std::lock_guard lock(t.lock);
  auto it = t.objects.find(body);
  if (it == t.objects.end() || t.next_handle_index >= (1ULL << 29)) {
    return nullptr;
  }
  ++it->second.references;
  ULONG_PTR value = kernel_handle_bit | (t.next_handle_index++ << 2);
  t.handles.emplace(value, body);
  return reinterpret_cast<HANDLE>(value);
}

std::vector<std::string> describe_open_handles() {
  object_table &t = table();
  std::lock_guard lock(t.lock);
  std::vector<std::string> lines;
  for (const auto &[value, body] : t.handles) {
    char line[128];
    auto it = t.objects.find(body);
    std::snprintf(line, sizeof line, "handle 0x%llx -> %s object %p",
                  static_cast<unsigned long long>(value),
                  it == t.objects.end() ? "?" : it->second.type->name, body);
    lines.emplace_back(line);
  }
  return lines;
}

std::size_t open_handle_count() {
  object_table &t = table();
  std::lock_guard lock(t.lock);
  return t.handles.size();
}

} // namespace uwsk::nt

using namespace uwsk::nt;

// ObReferenceObjectByHandle: the object behind a handle, with a reference the caller drops
// with ObDereferenceObject.
extern "C" NTSTATUS NTAPI ObReferenceObjectByHandle(HANDLE Handle, ACCESS_MASK DesiredAccess,
                                                    POBJECT_TYPE ObjectType,
                                                    KPROCESSOR_MODE AccessMode, PVOID *Object,
                                                    POBJECT_HANDLE_INFORMATION HandleInformation) {
  (void)DesiredAccess;
  (void)AccessMode;
  return reference_by_handle(Handle, ObjectType, Object, HandleInformation);
}

// ObReferenceObjectByHandleWithTag: ObReferenceObjectByHandle with a tag (for debugging).
extern "C" NTSTATUS NTAPI ObReferenceObjectByHandleWithTag(
    HANDLE Handle, ACCESS_MASK DesiredAccess, POBJECT_TYPE ObjectType, KPROCESSOR_MODE AccessMode,
    ULONG Tag, PVOID *Object, POBJECT_HANDLE_INFORMATION HandleInformation) {
  (void)DesiredAccess;
  (void)AccessMode;
  (void)Tag;
  return reference_by_handle(Handle, ObjectType, Object, HandleInformation);
}

// ObReferenceObjectByPointer: adds a reference after checking the object's type.
extern "C" NTSTATUS NTAPI ObReferenceObjectByPointer(PVOID Object, ACCESS_MASK DesiredAccess,
                                                     POBJECT_TYPE ObjectType,
                                                     KPROCESSOR_MODE AccessMode) {
  (void)DesiredAccess;
  (void)AccessMode;
  POBJECT_TYPE type = ob_object_type(Object);
  if (type == nullptr) {
    unknown_object("ObReferenceObjectByPointer", Object, __builtin_return_address(0));
  }
  if (ObjectType != nullptr && type != ObjectType) {
    return STATUS_OBJECT_TYPE_MISMATCH;
  }
  ob_reference(Object, __builtin_return_address(0));
  return STATUS_SUCCESS;
}

// ObReferenceObjectByPointerWithTag: ObReferenceObjectByPointer with a tag.
extern "C" NTSTATUS NTAPI ObReferenceObjectByPointerWithTag(PVOID Object, ACCESS_MASK DesiredAccess,
                                                            POBJECT_TYPE ObjectType,
                                                            KPROCESSOR_MODE AccessMode, ULONG Tag) {
  (void)Tag;
  return ObReferenceObjectByPointer(Object, DesiredAccess, ObjectType, AccessMode);
}

// ObfReferenceObject (behind ObReferenceObject): adds a reference; returns the new count.
extern "C" LONG_PTR FASTCALL ObfReferenceObject(PVOID Object) {
  return ob_reference(Object, __builtin_return_address(0));
}

// ObfReferenceObjectWithTag (behind ObReferenceObjectWithTag).
extern "C" LONG_PTR FASTCALL ObfReferenceObjectWithTag(PVOID Object, ULONG Tag) {
  (void)Tag;
  return ob_reference(Object, __builtin_return_address(0));
}

// ObfDereferenceObject (behind ObDereferenceObject): drops a reference, deleting the object
// with the last one; returns the new count.
extern "C" LONG_PTR FASTCALL ObfDereferenceObject(PVOID Object) {
  return ob_dereference(Object, __builtin_return_address(0));
}

// ObfDereferenceObjectWithTag (behind ObDereferenceObjectWithTag).
extern "C" LONG_PTR FASTCALL ObfDereferenceObjectWithTag(PVOID Object, ULONG Tag) {
  (void)Tag;
  return ob_dereference(Object, __builtin_return_address(0));
}

// ObDereferenceObjectDeferDelete: drops a reference; safe at any IRQL (deletion never blocks
// here, so it happens at once).
extern "C" VOID NTAPI ObDereferenceObjectDeferDelete(PVOID Object) {
  ob_dereference(Object, __builtin_return_address(0));
}

// ObDereferenceObjectDeferDeleteWithTag: ObDereferenceObjectDeferDelete with a tag.
extern "C" VOID NTAPI ObDereferenceObjectDeferDeleteWithTag(PVOID Object, ULONG Tag) {
  (void)Tag;
  ob_dereference(Object, __builtin_return_address(0));
}

// ObReferenceObjectSafe: adds a reference unless the object is being deleted (FALSE then).
extern "C" BOOLEAN FASTCALL ObReferenceObjectSafe(PVOID Object) {
  object_table &t = table();
  std::lock_guard lock(t.lock);
  auto it = t.objects.find(Object);
  if (it == t.objects.end() || it->second.references <= 0) {
    return FALSE;
  }
  ++it->second.references;
  return TRUE;
}

// ObReferenceObjectSafeWithTag: ObReferenceObjectSafe with a tag.
extern "C" BOOLEAN FASTCALL ObReferenceObjectSafeWithTag(PVOID Object, ULONG Tag) {
  (void)Tag;
  return ObReferenceObjectSafe(Object);
}

// ZwClose: closes a handle, dropping its reference; STATUS_INVALID_HANDLE if it is not open.
extern "C" NTSTATUS NTAPI ZwClose(HANDLE Handle) {
  void *body = nullptr;
  {
    object_table &t = table();
    std::lock_guard lock(t.lock);
    auto it = t.handles.find(reinterpret_cast<ULONG_PTR>(Handle));
    if (it == t.handles.end()) {
      return STATUS_INVALID_HANDLE;
    }
    body = it->second;
    t.handles.erase(it);
  }
  ob_dereference(body, __builtin_return_address(0));
  return STATUS_SUCCESS;
}
