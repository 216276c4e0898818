/* A driver that frees pool with the wrong tag (rule V80): the bug check must say so in a
 * sentence naming the block and show this file's line in the stack. */
#include <ntddk.h>

static __attribute__((noinline)) void FreeWithWrongTag(PVOID Block) {
  ExFreePoolWithTag(Block, 'gnrW');
  DbgPrint("bad_free: not reached\n"); /* also keeps the call from becoming a jump */
}

NTSTATUS DriverEntry(PDRIVER_OBJECT DriverObject, PUNICODE_STRING RegistryPath) {
  PVOID block;
  UNREFERENCED_PARAMETER(DriverObject);
  UNREFERENCED_PARAMETER(RegistryPath);
  block = ExAllocatePool2(POOL_FLAG_NON_PAGED, 32, 'eerF');
  if (block == NULL) {
    return STATUS_INSUFFICIENT_RESOURCES;
  }
  FreeWithWrongTag(block);
  return STATUS_SUCCESS;
}
