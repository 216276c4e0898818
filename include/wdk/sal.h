/*
 * sal.h - uwsk: SAL and driver-role annotations compile to nothing.
 *
 * Windows driver sources are dense with source annotations (_In_, _Out_opt_, _IRQL_requires_max_,
 * __drv_allocatesMem, ...). They carry no meaning for GCC or Clang, so every one expands to
 * nothing here. The parameterised forms are variadic macros so that any argument list works.
 */
#ifndef UWSK_WDK_SAL_H
#define UWSK_WDK_SAL_H

/* Plain parameter annotations. */
#define _In_
#define _In_opt_
#define _In_z_
#define _In_opt_z_
#define _Inout_
#define _Inout_opt_
#define _Inout_z_
#define _Out_
#define _Out_opt_
#define _Outptr_
#define _Outptr_opt_
#define _Outptr_result_maybenull_
#define _Outptr_opt_result_maybenull_
#define _Outptr_result_buffer_(...)
#define _Outptr_result_bytebuffer_(...)
#define _Out_writes_(...)
#define _Out_writes_opt_(...)
#define _Out_writes_z_(...)
#define _Out_writes_bytes_(...)
#define _Out_writes_bytes_opt_(...)
#define _Out_writes_bytes_to_(...)
#define _Out_writes_bytes_to_opt_(...)
#define _Out_writes_to_(...)
#define _Out_writes_to_opt_(...)
#define _Out_writes_all_(...)
#define _In_reads_(...)
#define _In_reads_opt_(...)
#define _In_reads_z_(...)
#define _In_reads_bytes_(...)
#define _In_reads_bytes_opt_(...)
#define _In_reads_or_z_(...)
#define _Inout_updates_(...)
#define _Inout_updates_opt_(...)
#define _Inout_updates_bytes_(...)
#define _Inout_updates_bytes_opt_(...)
#define _Field_size_(...)
#define _Field_size_opt_(...)
#define _Field_size_bytes_(...)
#define _Field_size_bytes_opt_(...)
#define _Field_size_part_(...)
#define _Field_size_bytes_part_(...)
#define _Field_range_(...)
#define _Field_z_
#define _Printf_format_string_
#define _Reserved_
#define _Pre_
#define _Post_
#define _Pre_notnull_
#define _Pre_maybenull_
#define _Post_invalid_
#define _Post_valid_
#define _Post_ptr_invalid_
#define _Post_z_
#define _Post_writable_byte_size_(...)
#define _Post_satisfies_(...)
#define _Pre_satisfies_(...)
#define _Notnull_
#define _Maybenull_
#define _Null_terminated_
#define _NullNull_terminated_
#define _Frees_ptr_
#define _Frees_ptr_opt_
#define _Ret_maybenull_
#define _Ret_notnull_
#define _Ret_range_(...)
#define _Ret_z_
#define _Ret_writes_(...)
#define _Ret_writes_bytes_(...)
#define _Ret_writes_bytes_maybenull_(...)
#define _Result_nullonfailure_
#define _Result_zeroonfailure_
#define _Success_(...)
#define _Return_type_success_(...)
#define _Check_return_
#define _Must_inspect_result_
#define _Use_decl_annotations_
#define _Analysis_assume_(...)
#define _Analysis_mode_(...)
#define _At_(...)
#define _At_buffer_(...)
#define _When_(...)
#define _Always_(...)
#define _In_range_(...)
#define _Out_range_(...)
#define _Deref_out_range_(...)
#define _Struct_size_bytes_(...)
#define _Strict_type_match_
#define _Literal_
#define _Points_to_data_
#define _Interlocked_operand_
#define _Guarded_by_(...)
#define _Write_guarded_by_(...)
#define _Requires_lock_held_(...)
#define _Requires_lock_not_held_(...)
#define _Acquires_lock_(...)
#define _Releases_lock_(...)
#define _Acquires_exclusive_lock_(...)
#define _Releases_exclusive_lock_(...)
#define _Acquires_shared_lock_(...)
#define _Releases_shared_lock_(...)
#define _Function_class_(...)
#define _Dispatch_type_(...)
#define _Kernel_float_saved_
#define _Kernel_float_restored_
#define _Kernel_float_used_
#define _Kernel_clear_do_init_(...)
#define _Kernel_requires_resource_held_(...)
#define _Kernel_requires_resource_not_held_(...)
#define _Kernel_acquires_resource_(...)
#define _Kernel_releases_resource_(...)

/* IRQL annotations. */
#define _IRQL_requires_(...)
#define _IRQL_requires_max_(...)
#define _IRQL_requires_min_(...)
#define _IRQL_requires_same_
#define _IRQL_raises_(...)
#define _IRQL_saves_
#define _IRQL_restores_
#define _IRQL_saves_global_(...)
#define _IRQL_restores_global_(...)
#define _IRQL_always_function_max_(...)
#define _IRQL_always_function_min_(...)
#define _IRQL_uses_cancel_
#define _IRQL_is_cancel_
#define _IRQL_limited_to_(...)

/* Legacy driver annotations (driverspecs.h). */
#define __drv_allocatesMem(x)
#define __drv_freesMem(x)
#define __drv_aliasesMem
#define __drv_when(cond, ...)
#define __drv_maxIRQL(x)
#define __drv_minIRQL(x)
#define __drv_setsIRQL(x)
#define __drv_raisesIRQL(x)
#define __drv_requiresIRQL(x)
#define __drv_savesIRQL
#define __drv_restoresIRQL
#define __drv_savesIRQLGlobal(...)
#define __drv_restoresIRQLGlobal(...)
#define __drv_sameIRQL
#define __drv_useCancelIRQL
#define __drv_dispatchType(x)
#define __drv_dispatchType_other
#define __drv_completionType(x)
#define __drv_functionClass(x)
#define __drv_strictType(...)
#define __drv_strictTypeMatch(x)
#define __drv_valueIs(x)
#define __drv_in(x)
#define __drv_out(x)
#define __drv_arg(...)
#define __drv_acquiresResource(x)
#define __drv_releasesResource(x)
#define __drv_mustHold(x)
#define __drv_neverHold(x)
#define __drv_reportError(x)
#define __drv_preferredFunction(...)
#define __drv_formatString(x)
#define __drv_isObjectPointer
#define __drv_inTry
#define __drv_notPointer
#define __drv_constant
#define __drv_nonConstant
#define __drv_unit(x)
#define __drv_acquiresExclusiveResource(x)
#define __drv_releasesExclusiveResource(x)
#define __drv_innerMustHoldGlobal(...)
#define __drv_innerNeverHoldGlobal(...)

/* Old-style SAL 1 spellings still found in older samples. C only: libstdc++ and the Linux
 * headers the runtime uses name their own parameters __in and __out, so C++ drivers use the
 * SAL 2 spellings above. */
#if !defined(__cplusplus) && !defined(UWSK_RUNTIME_BUILD)
#define __in
#define __in_opt
#define __out
#define __out_opt
#define __inout
#define __inout_opt
#define __in_bcount(x)
#define __in_bcount_opt(x)
#define __out_bcount(x)
#define __out_bcount_opt(x)
#define __in_ecount(x)
#define __out_ecount(x)
#define __deref_out
#define __deref_out_opt
#define __checkReturn
#define __success(x)
#define __field_bcount(x)
#define __field_ecount(x)
#define __reserved
#define __callback
#endif /* SAL 1 */

#endif /* UWSK_WDK_SAL_H */
