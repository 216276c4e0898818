# The version is written once: project(uwsk VERSION ...) in the top-level CMakeLists.txt. From
# it come uwsk/version.h (generated here, into the build tree, and installed with the other
# uwsk headers), uwsk-run --version (through that header), the CMake package version file and
# uwsk-driver.pc (install.cmake), and the Debian package's version (package.cmake).
# Included after src/, so that the library targets exist.
set(UWSK_GENERATED_INCLUDE_DIR ${CMAKE_BINARY_DIR}/include)
configure_file(${CMAKE_SOURCE_DIR}/cmake/version.h.in ${UWSK_GENERATED_INCLUDE_DIR}/uwsk/version.h
  @ONLY)
# Everything that builds against the library in this tree (uwsk-run, drivers made with
# uwsk_add_driver, tests) finds <uwsk/version.h> next to the other uwsk headers.
target_include_directories(uwsk PUBLIC $<BUILD_INTERFACE:${UWSK_GENERATED_INCLUDE_DIR}>)
target_include_directories(uwsk_static PUBLIC ${UWSK_GENERATED_INCLUDE_DIR})
