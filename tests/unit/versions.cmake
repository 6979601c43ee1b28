# Every version in the tree follows abi/netqueue/version.h (docs/versioning.md).
add_test(NAME versions COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/versions.sh
  ${PROJECT_SOURCE_DIR} ${PROJECT_VERSION} $<TARGET_FILE:netqueue>)
set_tests_properties(versions PROPERTIES LABELS "unit" TIMEOUT 60)
