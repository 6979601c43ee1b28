# The API reference (docs/Doxyfile.in, `ninja doc`) is complete and clean.
add_test(NAME apidocs COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/apidocs.sh
  ${PROJECT_BINARY_DIR}/Doxyfile ${PROJECT_SOURCE_DIR})
set_tests_properties(apidocs PROPERTIES LABELS "unit" TIMEOUT 120)
