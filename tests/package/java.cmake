# The jar (bindings/java): built by mvn from a copy of bindings/java against
# a `cmake --install` of this build (pkg-config), then used alone from a
# temporary directory by a Java program doing an echo round trip with
# `nq server --echo`, with no LD_LIBRARY_PATH: the libnetqueue it runs must
# be the jar's own (tests/package/java.sh). Missing tools make it fail.
add_test(NAME package_java
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/java.sh ${PROJECT_SOURCE_DIR} ${PROJECT_BINARY_DIR})
# RESOURCE_LOCK: Maven's local repository is shared with the bindings tests.
set_tests_properties(package_java PROPERTIES LABELS "package;java" TIMEOUT 600
  RESOURCE_LOCK bindings_pj_build)
