# make install: the library, uwsk-run, the headers, a CMake package (find_package(uwsk) gives
# uwsk::uwsk and uwsk_add_driver) and uwsk-driver.pc.
include(CMakePackageConfigHelpers)

set(UWSK_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/uwsk)
install(TARGETS uwsk EXPORT uwskTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/uwsk/wdk ${CMAKE_INSTALL_INCLUDEDIR})
install(TARGETS uwsk-run RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/wdk/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/uwsk/wdk)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/include/uwsk/ DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/uwsk)
install(EXPORT uwskTargets NAMESPACE uwsk:: DESTINATION ${UWSK_INSTALL_CMAKEDIR})
install(FILES ${CMAKE_SOURCE_DIR}/cmake/driver.map ${CMAKE_SOURCE_DIR}/cmake/uwsk_driver.cmake
  DESTINATION ${UWSK_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/uwskConfig.cmake.in
  ${CMAKE_BINARY_DIR}/uwskConfig.cmake INSTALL_DESTINATION ${UWSK_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_BINARY_DIR}/uwskConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${CMAKE_BINARY_DIR}/uwskConfig.cmake ${CMAKE_BINARY_DIR}/uwskConfigVersion.cmake
  DESTINATION ${UWSK_INSTALL_CMAKEDIR})

# pkg-config: one file for the build tree (PKG_CONFIG_PATH=build), one for the installed tree.
string(JOIN " -D" UWSK_PC_DEFINITIONS "" ${UWSK_DRIVER_DEFINITIONS})
string(JOIN " " UWSK_PC_OPTIONS ${UWSK_DRIVER_COMPILE_OPTIONS})
set(UWSK_PC_CFLAGS "${UWSK_PC_OPTIONS}${UWSK_PC_DEFINITIONS}")
set(UWSK_PC_VERSION ${PROJECT_VERSION})

set(UWSK_PC_INCLUDE_WDK ${CMAKE_SOURCE_DIR}/include/wdk)
set(UWSK_PC_INCLUDE ${CMAKE_SOURCE_DIR}/include)
set(UWSK_PC_LIBDIR ${CMAKE_BINARY_DIR}/lib)
set(UWSK_PC_MAP ${CMAKE_SOURCE_DIR}/cmake/driver.map)
configure_file(${CMAKE_SOURCE_DIR}/cmake/uwsk-driver.pc.in ${CMAKE_BINARY_DIR}/uwsk-driver.pc @ONLY)

set(UWSK_PC_INCLUDE_WDK ${CMAKE_INSTALL_FULL_INCLUDEDIR}/uwsk/wdk)
set(UWSK_PC_INCLUDE ${CMAKE_INSTALL_FULL_INCLUDEDIR})
set(UWSK_PC_LIBDIR ${CMAKE_INSTALL_FULL_LIBDIR})
set(UWSK_PC_MAP ${CMAKE_INSTALL_FULL_LIBDIR}/cmake/uwsk/driver.map)
configure_file(${CMAKE_SOURCE_DIR}/cmake/uwsk-driver.pc.in ${CMAKE_BINARY_DIR}/install/uwsk-driver.pc @ONLY)
install(FILES ${CMAKE_BINARY_DIR}/install/uwsk-driver.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
