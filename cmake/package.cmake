# The Debian package, built by CPack from the installation (install.cmake): libuwsk, uwsk-run and
# its man page, the headers, uwsk-driver.pc, the CMake package, the documentation and the
# copyright file. `make package` builds it from a release build configured for /usr
# (build-package/uwsk_VERSION-1_ARCH.deb); in any build directory `cpack -G DEB` does the same.
#
# The version is the project's (project(uwsk VERSION ...)); the dependencies are computed by
# dpkg-shlibdeps from what libuwsk and uwsk-run link (libc6, libstdc++6, libgcc-s1, liburing2, libdw1),
# so the package installs on the Debian release it was built on (Debian 12 for uwsk's CI).
set(UWSK_PACKAGE_MAINTAINER "The uwsk authors <maintainers@users.noreply.r-seed-4777955f.example>"
  CACHE STRING "The Maintainer field of the Debian package")

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME uwsk)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_VENDOR "The uwsk authors")
set(CPACK_PACKAGE_CONTACT "${UWSK_PACKAGE_MAINTAINER}")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Windows Winsock Kernel (WSK) drivers run in Linux user space")
set(CPACK_PACKAGE_DESCRIPTION "uwsk runs the network half of Windows kernel drivers - code \
written against the Winsock Kernel (WSK) API - as ordinary Linux processes over real Linux \
sockets. A driver's WDK-style C or C++ sources compile against uwsk's WDK headers, link \
against libuwsk, and run under the loader uwsk-run, which calls DriverEntry, hosts the driver, \
calls DriverUnload and reports what it leaked. Misuse of IRPs, MDLs, pool, IRQL or WSK stops \
with a bug-check report naming the rule.
.
This package holds the library, uwsk-run, the headers, the pkg-config file uwsk-driver.pc \
and the CMake package (find_package(uwsk), uwsk_add_driver) to build drivers with.")
set(CPACK_RESOURCE_FILE_LICENSE ${CMAKE_SOURCE_DIR}/LICENSE)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES TRUE)
# Tells install.cmake's rules that they install into CPack's staging directory.
set(CPACK_CUSTOM_INSTALL_VARIABLES UWSK_PACKAGING=1)

set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION devel)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# uwsk-tracewpp, the WPP header generator, is a Python 3 script (standard library only); the
# computed dependencies are added to this one.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "python3")
# A shlibs file for libuwsk.so.0 and the ldconfig trigger.
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
# Building a driver needs a C (or C++) compiler, and pkg-config or CMake.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "gcc | c-compiler, pkgconf | pkg-config")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "cmake, g++, gdb, valgrind")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION TRUE)

# cpack packs what is built and never builds (as cmake --install never does): `make package`
# builds first, and the package test (tests/integration/package_test.sh) packs the tree under
# test, while other tests run, without a build of it starting. This is also why the build
# directory's own `make install` does not build first.
set(CMAKE_SKIP_INSTALL_ALL_DEPENDENCY ON)

include(CPack)
