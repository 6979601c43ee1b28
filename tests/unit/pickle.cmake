# The pickle codec and nq_value: vectors from gen_pickle_vectors.py (Python 3.13).
nq_add_test(test_pickle SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/test_pickle.c LABELS unit pickle)
