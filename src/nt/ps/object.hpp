// The object manager: reference-counted kernel objects, object types and the handle table.
//
// An object is any runtime-allocated body registered here with a type. ObReferenceObject* and
// ObDereferenceObject* count references; a handle holds one reference too. When the count
// reaches zero the object is unregistered and its type's delete procedure frees the body.
// Object-manager calls on a pointer that was never registered bug-check (uwsk cannot read an
// object header in front of memory it did not allocate). The I/O manager registers its
// objects (devices, files) through the same interface when drivers may reference them.
#pragma once

#include <wdm.h>

#include <cstddef>
#include <string>
#include <vector>

struct _OBJECT_TYPE {
  const char *name;                     // "Thread", "Process", ...
  void (*delete_procedure)(void *body); // frees the body when the last reference goes
};

namespace uwsk::nt {

// A new object type (never freed). delete_procedure may be NULL for permanent objects.
POBJECT_TYPE ob_create_type(const char *name, void (*delete_procedure)(void *body));

// Registers `body` as an object of `type` with `references` references held by the caller.
void ob_insert_object(void *body, POBJECT_TYPE type, LONG_PTR references);

// Whether `body` is a registered object, and its type (NULL when it is not).
POBJECT_TYPE ob_object_type(const void *body);

// Adds / drops one reference (the latter may delete the object). Unknown bodies bug-check.
LONG_PTR ob_reference(void *body, const void *caller);
LONG_PTR ob_dereference(void *body, const void *caller);

// Opens a handle to a registered object (taking a reference for it); returns NULL when the
// handle table is full.
HANDLE ob_open_handle(void *body);

// Open handles, one line each ("handle 0x... -> Thread 0x..."), for the loader's leak report.
std::vector<std::string> describe_open_handles();
std::size_t open_handle_count();

} // namespace uwsk::nt
