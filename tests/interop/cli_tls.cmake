# Mutual TLS with the nq tool (nq server --client-ca, nq client --key/--cert):
# nq x nq on loopback, no Python needed.
if(NOT TARGET nq)
  return()
endif()
add_test(NAME cli_mtls_tcp COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli_mtls.sh
  $<TARGET_FILE:nq> ${NQ_TEST_CERTS} tcp)
set_tests_properties(cli_mtls_tcp PROPERTIES LABELS "cli;tls" TIMEOUT 120
  FIXTURES_REQUIRED certs)
if(NQ_WITH_GRPC)
  add_test(NAME cli_mtls_grpc COMMAND bash ${CMAKE_CURRENT_LIST_DIR}/cli_mtls.sh
    $<TARGET_FILE:nq> ${NQ_TEST_CERTS} grpc)
  set_tests_properties(cli_mtls_grpc PROPERTIES LABELS "cli;tls;grpc" TIMEOUT 120
    FIXTURES_REQUIRED certs)
endif()
