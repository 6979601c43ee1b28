nq_add_test(test_framer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_framer.c LABELS unit)
nq_add_test(test_handshake SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_handshake.c LABELS unit)
nq_add_test(test_options SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_options.c LABELS unit)
nq_add_test(test_future SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_future.c LABELS unit)
