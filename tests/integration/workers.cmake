# The multi-loop server (nq_options_set_workers): its own test, and the TCP
# and TLS suites again with every test server on 2 I/O threads
# (NQT_WORKERS, tests/support/nqtest.c). Label scale.
if(NOT TARGET it_tcp_basic)
  return()
endif()
nq_add_test(it_tcp_workers SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/tcp_workers.c
  ${PROJECT_SOURCE_DIR}/tests/support/nqtest.c LABELS tcp tls scale PUBLIC CERTS TIMEOUT 180)
foreach(_t it_tcp_basic it_tcp_close it_tcp_direct it_fault_tcp it_limits it_stats it_tls it_badinput)
  if(TEST ${_t})
    add_test(NAME ${_t}_workers2 COMMAND ${_t})
    get_test_property(${_t} ENVIRONMENT _env)
    get_test_property(${_t} TIMEOUT _timeout)
    set_tests_properties(${_t}_workers2 PROPERTIES LABELS "tcp;scale" TIMEOUT ${_timeout}
      ENVIRONMENT "${_env};NQT_WORKERS=2" FIXTURES_REQUIRED certs)
  endif()
endforeach()
