# Integration tests: C client x C server over TCP and TLS, and bad input
# from a raw scripted peer. They use the shared library through the public
# ABI only (PUBLIC), plus the small helpers in tests/support/nqtest.c.
set(_nqt ${PROJECT_SOURCE_DIR}/tests/support/nqtest.c)

# Registered only once the library defines the communicator calls, so that
# a tree without the TCP core still builds.
file(GLOB _nq_core_srcs ${PROJECT_SOURCE_DIR}/src/core/*.c ${PROJECT_SOURCE_DIR}/src/loop/*.c
  ${PROJECT_SOURCE_DIR}/src/tcp/*.c ${PROJECT_SOURCE_DIR}/src/tls/*.c)
set(_nq_have_comm FALSE)
foreach(_f ${_nq_core_srcs})
  file(STRINGS ${_f} _hit REGEX "^nq_status nq_comm_new\\(")
  if(_hit)
    set(_nq_have_comm TRUE)
  endif()
endforeach()
if(NOT _nq_have_comm)
  message(STATUS "integration tests: nq_comm_new not defined in src/ yet, not registered")
  return()
endif()

nq_add_test(it_tcp_basic SOURCES tcp_basic.c ${_nqt} LABELS tcp PUBLIC TIMEOUT 90)
nq_add_test(it_tcp_bulk SOURCES tcp_bulk.c ${_nqt} LABELS tcp PUBLIC TIMEOUT 120)
nq_add_test(it_tcp_close SOURCES tcp_close.c ${_nqt} LABELS tcp PUBLIC TIMEOUT 90)
nq_add_test(it_tcp_direct SOURCES tcp_direct.c ${_nqt} LABELS tcp PUBLIC TIMEOUT 90)
nq_add_test(it_tls SOURCES tls.c ${_nqt} LABELS tls PUBLIC CERTS TIMEOUT 120)
nq_add_test(it_tls_mutual SOURCES tls_mutual.c ${_nqt} LABELS tls fault PUBLIC CERTS TIMEOUT 120)
nq_add_test(it_badinput SOURCES badinput.c ${_nqt} LABELS tcp PUBLIC TIMEOUT 120)
nq_add_test(it_stress SOURCES stress.c ${_nqt} LABELS stress PUBLIC TIMEOUT 180)
nq_add_test(it_fault_tcp SOURCES fault_tcp.c ${_nqt} LABELS tcp fault PUBLIC TIMEOUT 120)
if(TARGET nq)
  nq_add_test(it_fault_crash SOURCES fault_crash.c ${_nqt} LABELS tcp fault PUBLIC TIMEOUT 120
    ARGS $<TARGET_FILE:nq>)
endif()
# statistics against what was sent: tcp, tls, inproc, and gRPC when built in
nq_add_test(it_stats SOURCES stats.c ${_nqt} LABELS tcp tls inproc stats PUBLIC CERTS TIMEOUT 120)
if(NQ_WITH_GRPC)
  target_compile_definitions(it_stats PRIVATE NQT_HAVE_GRPC=1)
  set_tests_properties(it_stats PROPERTIES LABELS "tcp;tls;inproc;grpc;stats")
endif()
