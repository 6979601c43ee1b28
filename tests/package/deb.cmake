# The Debian packages (cmake/packaging.cmake): built with cpack, installed
# for real with apt-get, used from outside the tree, removed at exit. It
# writes into /usr, so nothing else runs meanwhile (RUN_SERIAL); it needs
# root or password-less sudo and fails, saying so, without.
add_test(NAME package_deb
  COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/deb.sh ${CMAKE_BINARY_DIR} ${PROJECT_SOURCE_DIR} ${PROJECT_VERSION})
set_tests_properties(package_deb PROPERTIES LABELS "package" TIMEOUT 600 RUN_SERIAL ON)
