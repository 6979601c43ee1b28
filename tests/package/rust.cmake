# The Rust crates as a user gets them: `cargo package`d, unpacked outside
# the tree and built with the vendored feature by a new project, which then
# talks to `nq server --echo` (rust.sh). Fails, with the reason, when cargo
# or cmake is missing.
add_test(NAME package_rust
  COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/rust.sh ${PROJECT_SOURCE_DIR} $<TARGET_FILE:nq>)
set_tests_properties(package_rust PROPERTIES LABELS "package;rust" TIMEOUT 1200)
