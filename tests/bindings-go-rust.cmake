# Go and Rust bindings (bindings/go, bindings/rust): each one's own runner
# (go test, cargo test) against this build of libnetqueue, installed into a
# relocatable prefix in the build tree so that netqueue.pc is usable.
# Labels: bindings + go/rust; tests that talk to another language or to
# the Python reference also carry interop.
# Registered whether or not go and cargo are installed: without them the
# tests fail through require.sh, naming what is missing.
nq_prog(NQ_GO go)
nq_prog(NQ_CARGO cargo)
# Sanitizer builds are left out: go and cargo test binaries would load an
# instrumented libnetqueue without the sanitizer runtime.
if(NOT TARGET nq OR NQ_SANITIZE)
  return()
endif()
set(_gr_prefix ${CMAKE_BINARY_DIR}/bindings-go-rust-prefix)
set(_gr_src ${PROJECT_SOURCE_DIR}/bindings)
add_test(NAME bindings_go_rust_install
  COMMAND ${CMAKE_COMMAND} --install ${CMAKE_BINARY_DIR} --prefix ${_gr_prefix})
set_tests_properties(bindings_go_rust_install PROPERTIES
  FIXTURES_SETUP bindings_go_rust LABELS "bindings;go;rust")
set(_gr_env
  "PKG_CONFIG_PATH=${_gr_prefix}/${CMAKE_INSTALL_LIBDIR}/pkgconfig"
  "LD_LIBRARY_PATH=${_gr_prefix}/${CMAKE_INSTALL_LIBDIR}"
  "NQ_CLI=$<TARGET_FILE:nq>")

# nq_gr_test(NAME DIR LABELS NEEDS COMMAND...): NEEDS is a ;-list for require.sh
function(nq_gr_test name dir labels needs)
  add_test(NAME ${name} COMMAND ${NQ_REQUIRE} ${needs} -- ${ARGN} WORKING_DIRECTORY ${dir})
  set_tests_properties(${name} PROPERTIES LABELS "${labels}" TIMEOUT 900
    ENVIRONMENT "${_gr_env}" FIXTURES_REQUIRED bindings_go_rust)
endfunction()

set(_go prog:${NQ_GO})
set(_cargo prog:${NQ_CARGO})
set(_ref ref:${NQ_REF_PYTHON})
nq_gr_test(bindings_go ${_gr_src}/go "bindings;go" "${_go}" ${NQ_GO} test -count=1 ./...)
nq_gr_test(bindings_go_ref_example ${_gr_src}/go "bindings;go;interop" "${_go};${_ref}"
  bash examples/with-ref-server.sh ${NQ_REF_PYTHON} ${NQ_GO} run ./examples/hello -port PORT)
nq_gr_test(bindings_rust ${_gr_src}/rust "bindings;rust" "${_cargo}" ${NQ_CARGO} test -j 2 --locked)
nq_gr_test(bindings_rust_ref_example ${_gr_src}/rust "bindings;rust;interop" "${_cargo};${_ref}"
  bash ../go/examples/with-ref-server.sh ${NQ_REF_PYTHON}
  ${NQ_CARGO} run -q -j 2 --locked --example hello -- --port PORT)
nq_gr_test(bindings_go_rust_cross ${_gr_src}/go "bindings;go;rust;interop" "${_go};${_cargo}" bash cross-rust.sh)
# The asynchronous receive tests again under the race detector (cancels
# racing completions on the drain goroutines).
nq_gr_test(bindings_go_race ${_gr_src}/go "bindings;go" "${_go}"
  ${NQ_GO} test -count=1 -race -run "GetCtx|CancelInFlight|TooLate|MessagesChannel|Events|Stats|ReadAhead" .)

# bindgen is a developer's tool (regen.sh), not part of the build: check that
# the checked-in bindings.rs still matches the headers.
add_test(NAME bindings_rust_sys_current
  COMMAND ${Python3_EXECUTABLE} ${_gr_src}/rust/netqueue-sys/check-current.py
          ${PROJECT_SOURCE_DIR}/abi ${_gr_src}/rust/netqueue-sys/src/bindings.rs)
set_tests_properties(bindings_rust_sys_current PROPERTIES LABELS "bindings;rust;abi;unit")
