# The independent Go adapter (conformance/adapters/go, issue 15 item 6): a
# net-queue implementation written from the docs alone, standard library
# only. Built into the build tree when Go is found; its ctest runs are
# registered either way and FAIL, naming Go, when it was not found.
find_program(NQ_GO go) # the cache entry tests/bindings-go-rust.cmake uses too
set(_nq_go_dir ${CMAKE_CURRENT_SOURCE_DIR}/adapters/go)
set(NQ_GO_ADAPTER ${CMAKE_BINARY_DIR}/nq-go-adapter)
if(NQ_GO)
  # The user's build cache when Go has one (warm, as the Go binding's
  # build uses it), else one in the build tree. Nothing is downloaded: the
  # module has no dependencies (GOPROXY=off), and the local toolchain is
  # used as is (GOTOOLCHAIN=local: no toolchain download either).
  execute_process(COMMAND ${NQ_GO} env GOCACHE OUTPUT_VARIABLE _nq_gocache
    OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _nq_go_rc ERROR_QUIET)
  if(_nq_go_rc OR _nq_gocache STREQUAL "" OR _nq_gocache STREQUAL "off")
    set(_nq_gocache ${CMAKE_BINARY_DIR}/go-cache)
  endif()
  set(NQ_GO_ENV GOCACHE=${_nq_gocache} GOPATH=${CMAKE_BINARY_DIR}/go-path GOFLAGS=
    GOWORK=off GOTOOLCHAIN=local GOPROXY=off CGO_ENABLED=0)
  file(GLOB_RECURSE _nq_go_src CONFIGURE_DEPENDS ${_nq_go_dir}/*.go)
  add_custom_command(OUTPUT ${NQ_GO_ADAPTER}
    COMMAND ${CMAKE_COMMAND} -E env ${NQ_GO_ENV} ${NQ_GO} build -trimpath -o ${NQ_GO_ADAPTER} .
    WORKING_DIRECTORY ${_nq_go_dir}
    DEPENDS ${_nq_go_src} ${_nq_go_dir}/go.mod
    COMMENT "go build conformance/adapters/go -> nq-go-adapter" VERBATIM)
  add_custom_target(nq_go_adapter ALL DEPENDS ${NQ_GO_ADAPTER})
endif()

if(NOT NQ_BUILD_TESTS)
  return()
endif()
if(NQ_GO)
  # The protocol level on TCP and TLS, every selected case answered
  # (--min-coverage 100: no UNSUPPORTED), no expected failure.
  add_test(NAME conformance_go_adapter
    COMMAND ${CMAKE_BINARY_DIR}/nq-conformance --adapter ${NQ_GO_ADAPTER} --name go-independent
            --scope protocol --transport tcp,tls --min-coverage 100
            --certs ${CMAKE_BINARY_DIR}/test-certs --quiet
            --expected ${_nq_go_dir}/known-failures.json
            --json ${CMAKE_BINARY_DIR}/conformance-go-independent.json
            --junit ${CMAKE_BINARY_DIR}/conformance-go-independent.xml)
  add_test(NAME conformance_go_adapter_unit
    COMMAND ${CMAKE_COMMAND} -E env ${NQ_GO_ENV}
            sh -c "\"$0\" vet ./... && \"$0\" test -count=1 ./..." ${NQ_GO}
    WORKING_DIRECTORY ${_nq_go_dir})
else()
  set(_nq_no_go "echo 'MISSING PREREQUISITE: Go was not found when build/ was configured, so nq-go-adapter was not built' >&2; echo '  provide it with: Go 1.22 or later on PATH (https://go.dev/dl), then re-configure build/ (./scripts/setup.sh)' >&2; exit 1")
  add_test(NAME conformance_go_adapter COMMAND sh -c "${_nq_no_go}")
  add_test(NAME conformance_go_adapter_unit COMMAND sh -c "${_nq_no_go}")
endif()
set_tests_properties(conformance_go_adapter PROPERTIES LABELS "conformance;go;tcp;tls"
  TIMEOUT 600 FIXTURES_REQUIRED certs RESOURCE_LOCK nq_conformance)
set_tests_properties(conformance_go_adapter_unit PROPERTIES LABELS "go;unit" TIMEOUT 300)
