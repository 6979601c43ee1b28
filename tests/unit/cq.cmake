# Completion queues: batch take, coalesced wake-ups, token recycling.
nq_add_test(test_cq SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_cq.c LABELS unit)
