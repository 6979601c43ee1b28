# Mutual TLS over gRPC (nq_options_set_tls_client_ca on a gRPC server).
if(NOT NQ_WITH_GRPC OR NOT EXISTS ${PROJECT_SOURCE_DIR}/src/grpc)
  return()
endif()
nq_add_test(it_grpc_mtls SOURCES grpc_mtls.c ${PROJECT_SOURCE_DIR}/tests/support/nqtest.c
  LABELS grpc tls fault PUBLIC CERTS TIMEOUT 180)
