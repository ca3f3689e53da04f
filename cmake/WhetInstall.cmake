# `cmake --install build --prefix P` lays out an installed whet:
#   P/lib/libwhet.a, P/bin/whet, P/include/whet/{core,nn,...}/*.h,
#   P/lib/cmake/whet/ (whetConfig.cmake, its version file, the exported targets, FindCUDNN/NCCL),
# so a consumer writes find_package(whet) and target_link_libraries(app whet::whet).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(WHET_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/whet)
# The public headers include each other as "core/tensor.h", "models/registry.h", ...: the
# include root is include/whet, so these names cannot clash with a consumer's own.
set(WHET_PUBLIC_HEADER_DIRS core nn optim io data dist models train)

foreach(flag WHET_WITH_CUDNN WHET_WITH_NCCL)
  if(NOT ${flag})
    set(${flag} OFF)
  endif()
endforeach()

install(TARGETS whet EXPORT whetTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/whet)
install(TARGETS whet_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(dir ${WHET_PUBLIC_HEADER_DIRS})
  install(DIRECTORY ${dir} DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/whet FILES_MATCHING PATTERN "*.h")
endforeach()
install(EXPORT whetTargets NAMESPACE whet:: DESTINATION ${WHET_INSTALL_CMAKEDIR})

configure_package_config_file(cmake/whetConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/whetConfig.cmake
                              INSTALL_DESTINATION ${WHET_INSTALL_CMAKEDIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/whetConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)  # 0.x: minor versions break
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/whetConfig.cmake
              ${CMAKE_CURRENT_BINARY_DIR}/whetConfigVersion.cmake
              cmake/FindCUDNN.cmake cmake/FindNCCL.cmake
        DESTINATION ${WHET_INSTALL_CMAKEDIR})
