# gRPC transport: C x C (plain and TLS) and faults (raw gRPC core calls).
if(NOT NQ_WITH_GRPC OR NOT EXISTS ${PROJECT_SOURCE_DIR}/src/grpc)
  return()
endif()
nq_add_test(it_grpc_basic SOURCES grpc_basic.c ${PROJECT_SOURCE_DIR}/tests/support/nqtest.c LABELS grpc PUBLIC CERTS TIMEOUT 180)
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/grpc_faults.c)
  nq_add_test(it_grpc_faults SOURCES grpc_faults.c ${PROJECT_SOURCE_DIR}/tests/support/nqtest.c LABELS grpc PUBLIC CERTS TIMEOUT 180)
  target_include_directories(it_grpc_faults PRIVATE ${GRPC_INCLUDE_DIRS})
  target_link_libraries(it_grpc_faults PRIVATE ${GRPC_LINK_LIBRARIES})
endif()
# dead peers (kill -9, SIGSTOP) and bounded closes: children are this program again
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/grpc_life.c)
  nq_add_test(it_grpc_life SOURCES grpc_life.c ${PROJECT_SOURCE_DIR}/tests/support/nqtest.c LABELS grpc fault PUBLIC CERTS TIMEOUT 300)
  target_include_directories(it_grpc_life PRIVATE ${GRPC_INCLUDE_DIRS})
  target_link_libraries(it_grpc_life PRIVATE ${GRPC_LINK_LIBRARIES})
  # the same program against the reference's gRPC server (a client stalled on a full queue)
  add_test(NAME it_grpc_life_ref COMMAND ${NQ_REQUIRE} ref:${NQ_REF_PYTHON} -- $<TARGET_FILE:it_grpc_life> --ref)
  set_tests_properties(it_grpc_life_ref PROPERTIES LABELS "grpc;fault;interop" TIMEOUT 120
    ENVIRONMENT "NQ_REF_PYTHON=${NQ_REF_PYTHON}")
endif()
# proto/grpc_comm.proto documents the service: it must at least parse.
nq_prog(NQ_PROTOC_C protoc-c)
add_test(NAME grpc_proto_parses COMMAND ${NQ_REQUIRE} prog:${NQ_PROTOC_C} -- ${NQ_PROTOC_C} --proto_path=${PROJECT_SOURCE_DIR}/proto
  --c_out=${CMAKE_CURRENT_BINARY_DIR} ${PROJECT_SOURCE_DIR}/proto/grpc_comm.proto)
set_tests_properties(grpc_proto_parses PROPERTIES LABELS grpc)
# behind nginx (grpc_pass, TLS terminated there) in front of several
# servers: the nq-client-id header and hashing on it (docs/grpc-proxies.md)
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/grpc_proxy.c)
  nq_add_test(it_grpc_proxy SOURCES grpc_proxy.c ${PROJECT_SOURCE_DIR}/tests/support/nqtest.c
    ${PROJECT_SOURCE_DIR}/tests/support/nginx.c LABELS scale grpc PUBLIC CERTS TIMEOUT 600)
endif()
# the identity headers as the server checks them (raw gRPC core calls on one connection)
if(EXISTS ${CMAKE_CURRENT_SOURCE_DIR}/grpc_ident.c)
  nq_add_test(it_grpc_ident SOURCES grpc_ident.c ${PROJECT_SOURCE_DIR}/tests/support/nqtest.c LABELS grpc PUBLIC CERTS TIMEOUT 180)
  target_include_directories(it_grpc_ident PRIVATE ${GRPC_INCLUDE_DIRS})
  target_link_libraries(it_grpc_ident PRIVATE ${GRPC_LINK_LIBRARIES})
endif()
