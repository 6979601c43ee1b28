nq_add_test(test_stream SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_stream.c LABELS unit)
