# libuwsk's public API, read from the public headers at build time (cmake/uwsk_api.py): the
# version script that exports exactly the functions and variables include/wdk and include/uwsk
# declare, the data for the export tests (tests/api) and docs/api.md. The headers are the one
# list: a function declared in a new header is exported, tested and documented without being
# written down anywhere else.
#
# The scan uses GCC itself as the C parser (-aux-info prints every prototype with the header that
# declares it), so it needs gcc even where the build uses another C compiler.

find_package(Python3 REQUIRED COMPONENTS Interpreter)
if(CMAKE_C_COMPILER_ID STREQUAL "GNU")
  set(UWSK_API_CC ${CMAKE_C_COMPILER})
else()
  find_program(UWSK_API_CC gcc REQUIRED)
endif()
# libc's own symbols: a header that restates a libc function (or forbids it to drivers) does not
# make it libuwsk's.
execute_process(COMMAND ${UWSK_API_CC} -print-file-name=libc.so.6
  OUTPUT_VARIABLE UWSK_API_LIBC OUTPUT_STRIP_TRAILING_WHITESPACE)

set(UWSK_API_SCRIPT ${CMAKE_SOURCE_DIR}/cmake/uwsk_api.py)
set(UWSK_API_DIR ${CMAKE_BINARY_DIR}/api)
set(UWSK_API_ALLOW ${CMAKE_SOURCE_DIR}/src/internal_exports.txt)
file(GLOB_RECURSE UWSK_API_HEADERS CONFIGURE_DEPENDS
  ${UWSK_INCLUDE_DIR}/wdk/*.h ${UWSK_INCLUDE_DIR}/uwsk/*.h)

# The two views of the headers: a driver's (uwsk_add_driver's flags) and plain C's.
set(UWSK_API_PLAIN_FLAGS -std=gnu11 -I${UWSK_WDK_INCLUDE_DIR} -I${UWSK_INCLUDE_DIR})
set(UWSK_API_DRIVER_FLAGS ${UWSK_API_PLAIN_FLAGS} ${UWSK_DRIVER_COMPILE_OPTIONS})
foreach(definition ${UWSK_DRIVER_DEFINITIONS})
  list(APPEND UWSK_API_DRIVER_FLAGS -D${definition})
endforeach()
list(TRANSFORM UWSK_API_PLAIN_FLAGS PREPEND "--plain-flag=" OUTPUT_VARIABLE UWSK_API_PLAIN_ARGS)
list(TRANSFORM UWSK_API_DRIVER_FLAGS PREPEND "--driver-flag=" OUTPUT_VARIABLE UWSK_API_DRIVER_ARGS)

set(UWSK_API_FUNCTIONS ${UWSK_API_DIR}/functions.tsv)
set(UWSK_API_MAP ${UWSK_API_DIR}/libuwsk.map)
set(UWSK_API_LINK_CHECK ${UWSK_API_DIR}/link_check.c)
# The outputs are rewritten only when their text changes (so a header edit that changes no
# export does not relink libuwsk); the stamp says when the scan last ran.
add_custom_command(OUTPUT ${UWSK_API_DIR}/scan.stamp
  BYPRODUCTS ${UWSK_API_FUNCTIONS} ${UWSK_API_MAP} ${UWSK_API_LINK_CHECK}
  COMMAND ${Python3_EXECUTABLE} ${UWSK_API_SCRIPT} scan --cc ${UWSK_API_CC} --nm ${CMAKE_NM}
    --libc ${UWSK_API_LIBC} --include-root ${UWSK_INCLUDE_DIR}
    ${UWSK_API_DRIVER_ARGS} ${UWSK_API_PLAIN_ARGS}
    --allow ${UWSK_API_ALLOW} --out-dir ${UWSK_API_DIR}
  DEPENDS ${UWSK_API_SCRIPT} ${UWSK_API_ALLOW} ${UWSK_API_HEADERS}
  COMMENT "Reading libuwsk's exports from the public headers"
  VERBATIM)
add_custom_target(uwsk_api_scan DEPENDS ${UWSK_API_DIR}/scan.stamp)

# docs/api.md, generated into the build tree with every build (tests/api checks that the
# committed copy matches); uwsk_api_docs_update copies it into the source tree.
set(UWSK_API_DOCS ${UWSK_API_DIR}/api.md)
add_custom_command(OUTPUT ${UWSK_API_DOCS}
  COMMAND ${Python3_EXECUTABLE} ${UWSK_API_SCRIPT} docs --cc ${UWSK_API_CC} --nm ${CMAKE_NM}
    --include-root ${UWSK_INCLUDE_DIR} ${UWSK_API_DRIVER_ARGS}
    --functions ${UWSK_API_FUNCTIONS} --library $<TARGET_FILE:uwsk> --out ${UWSK_API_DOCS}
  DEPENDS ${UWSK_API_SCRIPT} ${UWSK_API_HEADERS} uwsk
  COMMENT "Generating api.md from the public headers"
  VERBATIM)
add_custom_target(uwsk_api_docs ALL DEPENDS ${UWSK_API_DOCS})
add_dependencies(uwsk_api_docs uwsk_api_scan)
add_custom_target(uwsk_api_docs_update
  COMMAND ${CMAKE_COMMAND} -E copy_if_different ${UWSK_API_DOCS} ${CMAKE_SOURCE_DIR}/docs/api.md
  DEPENDS ${UWSK_API_DOCS}
  COMMENT "Copying api.md into docs/")
