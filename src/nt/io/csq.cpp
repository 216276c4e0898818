// Cancel-safe IRP queues (km/csq.h).
//
// While an IRP is queued its cancel routine is csq_cancel and DriverContext[3] names the queue
// (or the insertion's IO_CSQ_IRP_CONTEXT, told apart by their Type fields). Whoever clears the
// cancel routine with IoSetCancelRoutine(Irp, NULL) and gets the old value back owns the IRP:
// a removal that gets NULL leaves the IRP to the cancel routine, which runs (or is about to)
// and takes it out of the queue under the queue's lock.
#include <wdm.h>

namespace {

constexpr ULONG context_slot = 3; // Irp->Tail.Overlay.DriverContext[3]

PIO_CSQ queue_of(PVOID marker) {
  auto *context = static_cast<PIO_CSQ_IRP_CONTEXT>(marker);
  return context->Type == IO_TYPE_CSQ_IRP_CONTEXT ? context->Csq : static_cast<PIO_CSQ>(marker);
}

// Takes a removed IRP's marker out of it (and the IRP out of its insertion context).
void forget_queue(PIRP irp) {
  PVOID marker = irp->Tail.Overlay.DriverContext[context_slot];
  if (marker != nullptr &&
      static_cast<PIO_CSQ_IRP_CONTEXT>(marker)->Type == IO_TYPE_CSQ_IRP_CONTEXT) {
    static_cast<PIO_CSQ_IRP_CONTEXT>(marker)->Irp = nullptr;
  }
  irp->Tail.Overlay.DriverContext[context_slot] = nullptr;
}

VOID NTAPI csq_cancel(PDEVICE_OBJECT device, PIRP irp) {
  (void)device;
  IoReleaseCancelSpinLock(irp->CancelIrql);
  PIO_CSQ csq = queue_of(irp->Tail.Overlay.DriverContext[context_slot]);
  KIRQL irql;
  csq->CsqAcquireLock(csq, &irql);
  csq->CsqRemoveIrp(csq, irp);
  forget_queue(irp);
  csq->CsqReleaseLock(csq, irql);
  csq->CsqCompleteCanceledIrp(csq, irp);
}

NTSTATUS initialize(PIO_CSQ csq, ULONG type, PVOID insert, PIO_CSQ_REMOVE_IRP remove,
                    PIO_CSQ_PEEK_NEXT_IRP peek, PIO_CSQ_ACQUIRE_LOCK acquire,
                    PIO_CSQ_RELEASE_LOCK release, PIO_CSQ_COMPLETE_CANCELED_IRP complete) {
  if (csq == nullptr || insert == nullptr || remove == nullptr || peek == nullptr ||
      acquire == nullptr || release == nullptr || complete == nullptr) {
    return STATUS_INVALID_PARAMETER;
  }
  // Deliberate pair (duplicates): field initialisations, alike in shape only to
  // wsk/linux/socket.cpp's publish.
  csq->Type = type;
  csq->CsqInsertIrp = reinterpret_cast<PIO_CSQ_INSERT_IRP>(insert);
  csq->CsqRemoveIrp = remove;
  csq->CsqPeekNextIrp = peek;
  csq->CsqAcquireLock = acquire;
  csq->CsqReleaseLock = release;
  csq->CsqCompleteCanceledIrp = complete;
  csq->ReservePointer = nullptr;
  return STATUS_SUCCESS;
}

} // namespace

// Deliberate pair (duplicates): IoCsqInitialize and IoCsqInitializeEx differ only in the insert
// routine's type; both call initialize.
// IoCsqInitialize: sets up a queue whose insert routine cannot fail.
extern "C" NTSTATUS NTAPI IoCsqInitialize(PIO_CSQ Csq, PIO_CSQ_INSERT_IRP CsqInsertIrp,
                                          PIO_CSQ_REMOVE_IRP CsqRemoveIrp,
                                          PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp,
                                          PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock,
                                          PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                                          PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp) {
  return initialize(Csq, IO_TYPE_CSQ, reinterpret_cast<PVOID>(CsqInsertIrp), CsqRemoveIrp,
                    CsqPeekNextIrp, CsqAcquireLock, CsqReleaseLock, CsqCompleteCanceledIrp);
}

// IoCsqInitializeEx: sets up a queue whose insert routine returns a status (a failure leaves
// the IRP out of the queue and is returned by IoCsqInsertIrpEx).
extern "C" NTSTATUS NTAPI IoCsqInitializeEx(PIO_CSQ Csq, PIO_CSQ_INSERT_IRP_EX CsqInsertIrp,
                                            PIO_CSQ_REMOVE_IRP CsqRemoveIrp,
                                            PIO_CSQ_PEEK_NEXT_IRP CsqPeekNextIrp,
                                            PIO_CSQ_ACQUIRE_LOCK CsqAcquireLock,
                                            PIO_CSQ_RELEASE_LOCK CsqReleaseLock,
                                            PIO_CSQ_COMPLETE_CANCELED_IRP CsqCompleteCanceledIrp) {
  return initialize(Csq, IO_TYPE_CSQ_EX, reinterpret_cast<PVOID>(CsqInsertIrp), CsqRemoveIrp,
                    CsqPeekNextIrp, CsqAcquireLock, CsqReleaseLock, CsqCompleteCanceledIrp);
}

// IoCsqInsertIrpEx: queues the IRP, marks it pending and makes it cancellable. An IRP already
// cancelled is taken out again and completed through CsqCompleteCanceledIrp.
extern "C" NTSTATUS NTAPI IoCsqInsertIrpEx(PIO_CSQ Csq, PIRP Irp, PIO_CSQ_IRP_CONTEXT Context,
                                           PVOID InsertContext) {
  KIRQL irql;
  Csq->CsqAcquireLock(Csq, &irql);
  if (Context != nullptr) {
    Context->Type = IO_TYPE_CSQ_IRP_CONTEXT;
    Context->Irp = Irp;
    Context->Csq = Csq;
    Irp->Tail.Overlay.DriverContext[context_slot] = Context;
  } else {
    Irp->Tail.Overlay.DriverContext[context_slot] = Csq;
  }
  if (Csq->Type == IO_TYPE_CSQ_EX) {
    const NTSTATUS status = reinterpret_cast<PIO_CSQ_INSERT_IRP_EX>(
        reinterpret_cast<PVOID>(Csq->CsqInsertIrp))(Csq, Irp, InsertContext);
    if (!NT_SUCCESS(status)) {
      forget_queue(Irp);
      Csq->CsqReleaseLock(Csq, irql);
      return status;
    }
  } else {
    Csq->CsqInsertIrp(Csq, Irp);
  }
  IoMarkIrpPending(Irp);
  IoSetCancelRoutine(Irp, csq_cancel);
  if (Irp->Cancel && IoSetCancelRoutine(Irp, nullptr) != nullptr) {
    // Cancelled before the cancel routine was in place, and IoCancelIrp found none to call.
    Csq->CsqRemoveIrp(Csq, Irp);
    forget_queue(Irp);
    Csq->CsqReleaseLock(Csq, irql);
    Csq->CsqCompleteCanceledIrp(Csq, Irp);
    return STATUS_SUCCESS;
  }
  Csq->CsqReleaseLock(Csq, irql);
  return STATUS_SUCCESS;
}

// IoCsqInsertIrp: IoCsqInsertIrpEx without an insert context.
extern "C" VOID NTAPI IoCsqInsertIrp(PIO_CSQ Csq, PIRP Irp, PIO_CSQ_IRP_CONTEXT Context) {
  IoCsqInsertIrpEx(Csq, Irp, Context, nullptr);
}

// IoCsqRemoveNextIrp: takes out the first queued IRP the peek routine offers (from the start,
// matching PeekContext) that is not being cancelled; NULL when there is none.
extern "C" PIRP NTAPI IoCsqRemoveNextIrp(PIO_CSQ Csq, PVOID PeekContext) {
  KIRQL irql;
  Csq->CsqAcquireLock(Csq, &irql);
  PIRP irp = Csq->CsqPeekNextIrp(Csq, nullptr, PeekContext);
  while (irp != nullptr) {
    if (IoSetCancelRoutine(irp, nullptr) != nullptr) {
      Csq->CsqRemoveIrp(Csq, irp);
      forget_queue(irp);
      break;
    }
    // Its cancel routine is about to run and take it out; skip it.
    irp = Csq->CsqPeekNextIrp(Csq, irp, PeekContext);
  }
  Csq->CsqReleaseLock(Csq, irql);
  return irp;
}

// IoCsqRemoveIrp: takes out the IRP queued with this context, unless it is gone or being
// cancelled (NULL then).
extern "C" PIRP NTAPI IoCsqRemoveIrp(PIO_CSQ Csq, PIO_CSQ_IRP_CONTEXT Context) {
  KIRQL irql;
  Csq->CsqAcquireLock(Csq, &irql);
  PIRP irp = Context->Irp;
  if (irp != nullptr) {
    if (IoSetCancelRoutine(irp, nullptr) != nullptr) {
      Csq->CsqRemoveIrp(Csq, irp);
      forget_queue(irp);
    } else {
      irp = nullptr;
    }
  }
  Csq->CsqReleaseLock(Csq, irql);
  return irp;
}
