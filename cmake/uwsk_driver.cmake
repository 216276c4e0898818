# uwsk_add_driver(name SOURCES... [WPP [WPP_OPTIONS options...]]) builds a Windows-style driver
# as a shared object that uwsk-run can load: WDK headers first on the include path, 16-bit
# wchar_t, the macros an MSVC kernel build predefines, and a version script that exports only
# DriverEntry.
#
# WPP: the driver traces with WPP. Before its sources compile, uwsk-tracewpp writes a .tmh header
# for each C or C++ source into a directory of the target's own, which is put on its include
# path; WPP_OPTIONS are passed to uwsk-tracewpp as given (-func:..., -scan:FILE, and tracewpp's
# other options, which it ignores), and a -scan: file, relative to the current source directory
# or absolute, is a dependency of the headers.
#
# Used in the build tree (linking the target `uwsk`) and after installation through
# find_package(uwsk) (linking `uwsk::uwsk`); UWSK_DRIVER_MAP and UWSK_DRIVER_LIBRARY say which.

set(UWSK_DRIVER_DEFINITIONS _WIN32=1 _WIN64=1 _AMD64_=1 _M_X64=100 _M_AMD64=100 _KERNEL_MODE=1)
# Windows samples brace-initialise sockaddrs partially; MSVC does not warn about that either.
set(UWSK_DRIVER_COMPILE_OPTIONS -fshort-wchar -fno-strict-aliasing -Wno-multichar -Wno-unknown-pragmas
  -Wno-missing-braces -Wno-missing-field-initializers)

# GCC 14 and Clang 16 reject by default, in C, a pointer passed where another pointer type is
# expected (a completion routine taking a PKEVENT given as a PIO_COMPLETION_ROUTINE, whose context
# is a PVOID); MSVC only warns. Driver builds keep the warning and drop the error, when the C
# compiler knows the flag (in C++ the conversion is an error everywhere, MSVC included).
set(UWSK_DRIVER_C_OPTIONS)
if(CMAKE_C_COMPILER_LOADED)
  include(CheckCompilerFlag)
  check_compiler_flag(C -Wno-error=incompatible-pointer-types UWSK_C_HAS_NO_ERROR_POINTER_TYPES)
  if(UWSK_C_HAS_NO_ERROR_POINTER_TYPES)
    list(APPEND UWSK_DRIVER_C_OPTIONS -Wno-error=incompatible-pointer-types)
  endif()
endif()

if(NOT DEFINED UWSK_DRIVER_MAP)
  set(UWSK_DRIVER_MAP ${CMAKE_CURRENT_LIST_DIR}/driver.map)
endif()
if(NOT DEFINED UWSK_DRIVER_LIBRARY)
  set(UWSK_DRIVER_LIBRARY uwsk)
endif()
if(NOT DEFINED UWSK_TRACEWPP)
  set(UWSK_TRACEWPP ${UWSK_TRACEWPP_SOURCE})
endif()

function(uwsk_add_driver name)
  cmake_parse_arguments(arg "WPP" "" "SOURCES;WPP_OPTIONS" ${ARGN})
  set(sources ${arg_SOURCES} ${arg_UNPARSED_ARGUMENTS})
  add_library(${name} MODULE ${sources})
  if(arg_WPP)
    uwsk_driver_wpp(${name} "${sources}" "${arg_WPP_OPTIONS}")
  endif()
  set_target_properties(${name} PROPERTIES PREFIX "" SUFFIX ".so"
    LINK_DEPENDS ${UWSK_DRIVER_MAP}
    LIBRARY_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/drivers)
  target_compile_definitions(${name} PRIVATE ${UWSK_DRIVER_DEFINITIONS})
  target_compile_options(${name} PRIVATE ${UWSK_DRIVER_COMPILE_OPTIONS}
    $<$<COMPILE_LANGUAGE:C>:${UWSK_DRIVER_C_OPTIONS}>)
  target_link_libraries(${name} PRIVATE ${UWSK_DRIVER_LIBRARY})
  target_link_options(${name} PRIVATE -Wl,--version-script=${UWSK_DRIVER_MAP} -Wl,--no-undefined)
endfunction()

# The .tmh headers of a WPP-traced driver (see uwsk_add_driver).
function(uwsk_driver_wpp name sources options)
  set(dir ${CMAKE_CURRENT_BINARY_DIR}/${name}_wpp)
  set(inputs "")
  set(outputs "")
  foreach(source ${sources})
    get_filename_component(path ${source} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
    if(path MATCHES "\\.(c|cc|cpp|cxx|C)$")
      get_filename_component(stem ${path} NAME_WLE)
      list(APPEND inputs ${path})
      list(APPEND outputs ${dir}/${stem}.tmh)
    endif()
  endforeach()
  set(depends ${inputs} ${UWSK_TRACEWPP})
  foreach(option ${options})
    if(option MATCHES "^-scan:(.+)$")
      get_filename_component(scan ${CMAKE_MATCH_1} ABSOLUTE BASE_DIR ${CMAKE_CURRENT_SOURCE_DIR})
      list(APPEND depends ${scan})
    endif()
  endforeach()
  add_custom_command(OUTPUT ${outputs}
    COMMAND ${UWSK_TRACEWPP} -odir:${dir} ${options} ${inputs}
    DEPENDS ${depends}
    WORKING_DIRECTORY ${CMAKE_CURRENT_SOURCE_DIR}
    COMMENT "uwsk-tracewpp: WPP headers of ${name}"
    VERBATIM)
  target_sources(${name} PRIVATE ${outputs})
  target_include_directories(${name} PRIVATE ${dir})
endfunction()
