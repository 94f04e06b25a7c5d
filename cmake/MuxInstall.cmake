# Install rules: libmux (static and shared), mux.h, the programs, their man
# pages, a pkg-config file and a CMake package, so that a consumer can use
#   pkg-config --cflags --libs mux        or
#   find_package(mux) + target_link_libraries(app PRIVATE mux::mux)
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(MUX_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/mux)

install(TARGETS mux mux_shared EXPORT muxTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
  INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES include/mux.h DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

# muxcat and the man pages may not exist in every checkout.
foreach(program muxd muxcat)
  if(TARGET ${program})
    install(TARGETS ${program} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  endif()
  if(EXISTS ${PROJECT_SOURCE_DIR}/docs/${program}.1)
    install(FILES docs/${program}.1 DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  endif()
endforeach()

# CMake package: muxTargets.cmake (mux::mux shared, mux::mux_static),
# muxConfig.cmake and its version file.
install(EXPORT muxTargets NAMESPACE mux:: DESTINATION ${MUX_CMAKE_DIR})
configure_package_config_file(cmake/muxConfig.cmake.in
  ${PROJECT_BINARY_DIR}/muxConfig.cmake INSTALL_DESTINATION ${MUX_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/muxConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/muxConfig.cmake
  ${PROJECT_BINARY_DIR}/muxConfigVersion.cmake DESTINATION ${MUX_CMAKE_DIR})

# pkg-config: the prefix is only known at install time (cmake --install
# --prefix overrides the configured one), so mux.pc is configured twice:
# now for everything but the prefix, then by the install script.
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(MUX_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(MUX_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
# A sanitized libmux needs the sanitizer runtimes in whatever links it.
set(MUX_PC_LIBS_EXTRA "")
foreach(flag ${MUX_SANITIZE_LINK_FLAGS})
  string(APPEND MUX_PC_LIBS_EXTRA " ${flag}")
endforeach()
set(MUX_PC_PREFIX "@MUX_PC_PREFIX@") # kept for the second pass
configure_file(cmake/mux.pc.in ${PROJECT_BINARY_DIR}/mux.pc.in @ONLY)
install(CODE "
  set(MUX_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${PROJECT_BINARY_DIR}/mux.pc.in\"
                 \"${PROJECT_BINARY_DIR}/mux.pc\" @ONLY)")
install(FILES ${PROJECT_BINARY_DIR}/mux.pc
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
