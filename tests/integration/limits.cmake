# Memory bounds: the send limit (opt-in) and the receive queue limit.
nq_add_test(it_limits PUBLIC SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/limits.c
  ${PROJECT_SOURCE_DIR}/tests/support/nqtest.c LABELS tcp TIMEOUT 120)
