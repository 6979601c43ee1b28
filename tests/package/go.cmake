# The Go module as a user gets it: this build installed into a temporary
# prefix, bindings/go copied next to it and required by a separate module
# through a replace directive, built with the library's directory as run
# path, then talking to `nq server --echo` (go.sh). Fails, with the reason,
# when go or pkg-config is missing. Not in sanitizer builds: the Go program
# would load an instrumented libnetqueue without the sanitizer runtime.
if(NQ_SANITIZE)
  return()
endif()
add_test(NAME package_go
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/go.sh ${PROJECT_SOURCE_DIR} ${CMAKE_BINARY_DIR} $<TARGET_FILE:nq>)
set_tests_properties(package_go PROPERTIES LABELS "package;go" TIMEOUT 600)
