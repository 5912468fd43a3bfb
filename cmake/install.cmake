# `cmake --install build --prefix DIR`: the psl program, libpsl_core, the bundled plugins,
# the public headers and the CMake package for plugin authors (find_package(psl)).
# `cpack -G DEB` (in build/) makes a Debian package of the same files.
include(CMakePackageConfigHelpers)

# Relative run paths, so that an installed tree works wherever it is put.
file(RELATIVE_PATH psl_bin_to_lib ${CMAKE_INSTALL_FULL_BINDIR} ${CMAKE_INSTALL_FULL_LIBDIR})
file(RELATIVE_PATH psl_lib_to_bin ${CMAKE_INSTALL_FULL_LIBDIR} ${CMAKE_INSTALL_FULL_BINDIR})
set_target_properties(psl PROPERTIES INSTALL_RPATH "$ORIGIN/${psl_bin_to_lib}")
# libpsl_core finds the program and the plugins of an installed tree from where it is.
target_compile_definitions(psl_core PRIVATE PSL_LIB_TO_BIN="${psl_lib_to_bin}" PSL_LIB_TO_PLUGINS="psl/plugins")

# psl::plugin: what an out-of-tree plugin links.
add_library(psl_plugin INTERFACE)
set_target_properties(psl_plugin PROPERTIES EXPORT_NAME plugin)
target_link_libraries(psl_plugin INTERFACE psl_core)
target_compile_features(psl_plugin INTERFACE cxx_std_20)
target_link_options(psl_plugin INTERFACE -Wl,--no-undefined)
add_library(psl::plugin ALIAS psl_plugin)

install(TARGETS psl RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS psl_core psl_plugin EXPORT pslTargets
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(DIRECTORY core/include/psl DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
set(psl_cmake_dir ${CMAKE_INSTALL_LIBDIR}/cmake/psl)
install(EXPORT pslTargets NAMESPACE psl:: DESTINATION ${psl_cmake_dir})
configure_package_config_file(cmake/pslConfig.cmake.in ${PROJECT_BINARY_DIR}/pslConfig.cmake
                              INSTALL_DESTINATION ${psl_cmake_dir} PATH_VARS PSL_INSTALL_PLUGIN_DIR)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/pslConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/pslConfig.cmake ${PROJECT_BINARY_DIR}/pslConfigVersion.cmake
        DESTINATION ${psl_cmake_dir})

# The Debian package: dpkg-shlibdeps finds the runtime libraries' packages (libtorch,
# boost, fmt, ssl, ...); what is loaded by other means is named here.
set(CPACK_PACKAGE_NAME psl)
set(CPACK_PACKAGE_VENDOR "PSL workbench")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Parallel split learning experiments: samplers, plugins, sweeps and reports")
set(CPACK_PACKAGE_CONTACT "PSL workbench developers <psl@localhost>")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "libjs-dygraphs, libtorch-dev")  # report charts; plugin headers need torch's
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "dataset-fashion-mnist")
set(CPACK_GENERATOR DEB)
include(CPack)
