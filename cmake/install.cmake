# make install / cmake --install: the library, uwsk-run and its man page, the headers (with the
# generated uwsk/version.h), a CMake package (find_package(uwsk) gives uwsk::uwsk and
# uwsk_add_driver), uwsk-driver.pc and the documentation; and, in share/uwsk, a record of what
# was installed with the script that removes it again (make uninstall, or
# cmake -P PREFIX/share/uwsk/uninstall.cmake).
#
# Nothing installed names the prefix: the CMake package finds its files from its own directory,
# uwsk-driver.pc from ${pcfiledir}, and uwsk-run its library through $ORIGIN. So a build installs
# correctly wherever `cmake --install --prefix` or DESTDIR puts it, whatever prefix it was
# configured with, and the installed tree keeps working when moved (a Debian package unpacked
# with dpkg-deb -x, for instance).
include(CMakePackageConfigHelpers)

set(UWSK_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/uwsk)
set(UWSK_INSTALL_PKGCONFIGDIR ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
set(UWSK_INSTALL_HEADERDIR ${CMAKE_INSTALL_INCLUDEDIR}/uwsk)
set(UWSK_INSTALL_DATADIR ${CMAKE_INSTALL_DATADIR}/uwsk)
set(UWSK_INSTALL_MAN1DIR ${CMAKE_INSTALL_MANDIR}/man1)
foreach(dir CMAKE_INSTALL_BINDIR CMAKE_INSTALL_LIBDIR CMAKE_INSTALL_INCLUDEDIR CMAKE_INSTALL_DATADIR
    CMAKE_INSTALL_MANDIR CMAKE_INSTALL_DOCDIR)
  if(IS_ABSOLUTE "${${dir}}")
    message(FATAL_ERROR "${dir} (${${dir}}) must be relative to the installation prefix: "
      "uwsk's installed files find each other by relative paths")
  endif()
endforeach()

# The record of what this installation created, begun before anything is installed (see
# install_record.cmake). UWSK_PACKAGING is set when CPack installs into its staging directory
# (package.cmake): a package manager keeps its own record, so then there is none, and the
# Debian copyright file is installed instead of LICENSE.
set(UWSK_RECORD_SETTINGS "
set(UWSK_RECORD_DESTINATIONS \"${CMAKE_INSTALL_BINDIR};${CMAKE_INSTALL_LIBDIR};${UWSK_INSTALL_PKGCONFIGDIR};${UWSK_INSTALL_CMAKEDIR};${UWSK_INSTALL_HEADERDIR};${UWSK_INSTALL_DATADIR};${CMAKE_INSTALL_DOCDIR};${UWSK_INSTALL_MAN1DIR}\")
set(UWSK_RECORD_OWNED \"${UWSK_INSTALL_HEADERDIR};${UWSK_INSTALL_CMAKEDIR};${UWSK_INSTALL_DATADIR};${CMAKE_INSTALL_DOCDIR}\")
set(UWSK_RECORD_DATADIR \"${UWSK_INSTALL_DATADIR}\")
set(UWSK_RECORD_VERSION \"${PROJECT_VERSION}\")
set(UWSK_RECORD_UNINSTALL_SCRIPT \"${CMAKE_BINARY_DIR}/uwsk_uninstall/uninstall.cmake\")
include(\"${CMAKE_SOURCE_DIR}/cmake/install_record.cmake\")
uwsk_record_begin()
")
install(CODE "${UWSK_RECORD_SETTINGS}")

install(TARGETS uwsk EXPORT uwskTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${UWSK_INSTALL_HEADERDIR}/wdk ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS uwsk-run uwsk-trace-svg RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(PROGRAMS ${UWSK_TRACEWPP_SOURCE} DESTINATION ${CMAKE_INSTALL_BINDIR})
install(FILES ${CMAKE_BINARY_DIR}/man/uwsk-run.1.gz DESTINATION ${UWSK_INSTALL_MAN1DIR})
install(FILES ${CMAKE_SOURCE_DIR}/share/valgrind.supp DESTINATION ${UWSK_INSTALL_DATADIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/wdk/ DESTINATION ${UWSK_INSTALL_HEADERDIR}/wdk)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/uwsk/ DESTINATION ${UWSK_INSTALL_HEADERDIR})
install(FILES ${UWSK_GENERATED_INCLUDE_DIR}/uwsk/version.h DESTINATION ${UWSK_INSTALL_HEADERDIR})

# The CMake package: relocatable by construction (configure_package_config_file computes the
# prefix from the file's own location; the exported targets use ${_IMPORT_PREFIX}).
install(EXPORT uwskTargets NAMESPACE uwsk:: DESTINATION ${UWSK_INSTALL_CMAKEDIR})
install(FILES ${CMAKE_SOURCE_DIR}/cmake/driver.map ${CMAKE_SOURCE_DIR}/cmake/uwsk_driver.cmake
  DESTINATION ${UWSK_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/uwskConfig.cmake.in
  ${CMAKE_BINARY_DIR}/uwskConfig.cmake INSTALL_DESTINATION ${UWSK_INSTALL_CMAKEDIR})
# 0.x releases may break compatibility in each minor version, so find_package(uwsk 0.1) accepts
# only 0.1.*; from 1.0 on, any later version of the same major.
if(PROJECT_VERSION_MAJOR EQUAL 0)
  set(uwsk_compatibility SameMinorVersion)
else()
  set(uwsk_compatibility SameMajorVersion)
endif()
write_basic_package_version_file(${CMAKE_BINARY_DIR}/uwskConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY ${uwsk_compatibility})
install(FILES ${CMAKE_BINARY_DIR}/uwskConfig.cmake ${CMAKE_BINARY_DIR}/uwskConfigVersion.cmake
  DESTINATION ${UWSK_INSTALL_CMAKEDIR})

# pkg-config: one file for the build tree (PKG_CONFIG_PATH=build), one for the installed tree.
string(JOIN " -D" UWSK_PC_DEFINITIONS "" ${UWSK_DRIVER_DEFINITIONS})
# pkg-config cannot tell C from C++: the C-only options go in too (g++ and clang++ accept them).
string(JOIN " " UWSK_PC_OPTIONS ${UWSK_DRIVER_COMPILE_OPTIONS} ${UWSK_DRIVER_C_OPTIONS})
set(UWSK_PC_CFLAGS "${UWSK_PC_OPTIONS}${UWSK_PC_DEFINITIONS}")

# The build tree: the headers from the source tree, version.h and the library from the build.
set(UWSK_PC_PREFIX ${CMAKE_BINARY_DIR})
set(UWSK_PC_LIBDIR "\${prefix}/lib")
set(UWSK_PC_INCLUDEDIR ${CMAKE_SOURCE_DIR}/include)
set(UWSK_PC_WDK_INCLUDEDIR ${CMAKE_SOURCE_DIR}/include/wdk)
set(UWSK_PC_EXTRA_INCLUDES " -I${UWSK_GENERATED_INCLUDE_DIR}")
set(UWSK_PC_DRIVER_MAP ${CMAKE_SOURCE_DIR}/cmake/driver.map)
set(UWSK_PC_TRACEWPP ${CMAKE_BINARY_DIR}/bin/uwsk-tracewpp)
configure_file(${CMAKE_SOURCE_DIR}/cmake/uwsk-driver.pc.in ${CMAKE_BINARY_DIR}/uwsk-driver.pc @ONLY)

# The installed tree: every path relative to the directory the .pc file is found in.
file(RELATIVE_PATH UWSK_PC_TO_PREFIX /uwsk-prefix/${UWSK_INSTALL_PKGCONFIGDIR} /uwsk-prefix)
string(REGEX REPLACE "/$" "" UWSK_PC_TO_PREFIX "${UWSK_PC_TO_PREFIX}")
set(UWSK_PC_PREFIX "\${pcfiledir}/${UWSK_PC_TO_PREFIX}")
set(UWSK_PC_LIBDIR "\${prefix}/${CMAKE_INSTALL_LIBDIR}")
set(UWSK_PC_INCLUDEDIR "\${prefix}/${CMAKE_INSTALL_INCLUDEDIR}")
set(UWSK_PC_WDK_INCLUDEDIR "\${prefix}/${UWSK_INSTALL_HEADERDIR}/wdk")
set(UWSK_PC_EXTRA_INCLUDES "")
set(UWSK_PC_DRIVER_MAP "\${prefix}/${UWSK_INSTALL_CMAKEDIR}/driver.map")
set(UWSK_PC_TRACEWPP "\${prefix}/${CMAKE_INSTALL_BINDIR}/uwsk-tracewpp")
configure_file(${CMAKE_SOURCE_DIR}/cmake/uwsk-driver.pc.in ${CMAKE_BINARY_DIR}/install/uwsk-driver.pc
  @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/install/uwsk-driver.pc DESTINATION ${UWSK_INSTALL_PKGCONFIGDIR})

# Documentation. A package gets the Debian copyright file (which names the licence) where an
# installation from source gets LICENSE.
install(FILES ${CMAKE_SOURCE_DIR}/README.md ${CMAKE_SOURCE_DIR}/CHANGELOG.md
  DESTINATION ${CMAKE_INSTALL_DOCDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/docs/ DESTINATION ${CMAKE_INSTALL_DOCDIR}
  FILES_MATCHING PATTERN "*.md")
install(CODE "
if(UWSK_PACKAGING)
  file(INSTALL \"${CMAKE_SOURCE_DIR}/cmake/debian/copyright\"
    DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
else()
  file(INSTALL \"${CMAKE_SOURCE_DIR}/LICENSE\"
    DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_DOCDIR}\")
endif()
")

# Last: the uninstall script and the record of every file installed above.
file(RELATIVE_PATH UWSK_DATADIR_TO_PREFIX /uwsk-prefix/${UWSK_INSTALL_DATADIR} /uwsk-prefix)
string(REGEX REPLACE "/$" "" UWSK_DATADIR_TO_PREFIX "${UWSK_DATADIR_TO_PREFIX}")
configure_file(${CMAKE_SOURCE_DIR}/cmake/uninstall.cmake.in
  ${CMAKE_BINARY_DIR}/uwsk_uninstall/uninstall.cmake @ONLY)
install(CODE "uwsk_record_end()")

# cmake --build BUILD --target uninstall: removes the installation in CMAKE_INSTALL_PREFIX (for
# one made with `cmake --install --prefix DIR`: cmake -P DIR/share/uwsk/uninstall.cmake, or
# make uninstall PREFIX=DIR).
add_custom_target(uninstall
  COMMAND ${CMAKE_COMMAND} -DUWSK_PREFIX=${CMAKE_INSTALL_PREFIX}
          -P ${CMAKE_BINARY_DIR}/uwsk_uninstall/uninstall.cmake
  COMMENT "Removing uwsk from ${CMAKE_INSTALL_PREFIX}"
  VERBATIM)
