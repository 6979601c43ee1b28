# `cmake --install` into a temporary prefix: the installed nq runs without
# LD_LIBRARY_PATH, a pkg-config client (with -Wl,-rpath) and a static one
# (pkg-config --static, libnetqueue.a) build and run.
add_test(NAME package_install_prefix
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/install.sh ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR} ${PROJECT_VERSION})
set_tests_properties(package_install_prefix PROPERTIES LABELS "package" TIMEOUT 300)
