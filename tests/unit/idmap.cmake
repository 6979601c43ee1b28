# The id hash map and the ordered id set on it (session and peer lookups).
nq_add_test(test_idmap SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_idmap.c LABELS unit)
