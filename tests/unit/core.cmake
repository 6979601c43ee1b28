nq_add_test(test_framer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_framer.c LABELS unit)
nq_add_test(test_handshake SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_handshake.c LABELS unit)
nq_add_test(test_options SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_options.c LABELS unit)
nq_add_test(test_future SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_future.c LABELS unit)
nq_add_test(test_recvq SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_recvq.c LABELS unit)
nq_add_test(test_core_inproc SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_core_inproc.c LABELS unit TIMEOUT 120)
add_test(NAME transport_boundary COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/transport_boundary.sh
  ${PROJECT_SOURCE_DIR}/src)
set_tests_properties(transport_boundary PROPERTIES LABELS "unit" TIMEOUT 30)
