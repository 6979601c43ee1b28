# Interop tests: the nq tool against the Python reference (NQ_REF_PYTHON,
# net-queue 2.6.4 from PyPI), and nq against itself for the legacy dialect,
# which has no reference release on PyPI (see README.md here).
# Each test is one run of run_interop.py; it picks its own free loopback
# port, kills every peer it started, and checks what each side received.
if(NOT TARGET nq)
  return()
endif()
find_package(Python3 COMPONENTS Interpreter REQUIRED)
set(_nq_interop_dir ${CMAKE_CURRENT_LIST_DIR})

# nq_interop(NAME PYTHON pair case [--tls] [--codec c] [--legacy] LABELS ...)
function(nq_interop name python)
  cmake_parse_arguments(I "" "" "LABELS" ${ARGN})
  add_test(NAME ${name}
    COMMAND bash ${_nq_interop_dir}/with-python.sh ${python}
            ${_nq_interop_dir}/run_interop.py --nq $<TARGET_FILE:nq>
            --certs ${NQ_TEST_CERTS} ${I_UNPARSED_ARGUMENTS})
  set_tests_properties(${name} PROPERTIES LABELS "${I_LABELS}" TIMEOUT 120)
  if("--tls" IN_LIST I_UNPARSED_ARGUMENTS)
    set_tests_properties(${name} PROPERTIES FIXTURES_REQUIRED certs)
  endif()
endfunction()

foreach(_pair cclient-pyserver pyclient-cserver)
  string(REPLACE "-" "_" _pname ${_pair})
  foreach(_tr tcp tls)
    set(_tls)
    if(_tr STREQUAL "tls")
      set(_tls --tls)
    endif()
    foreach(_codec raw pickle)
      set(_labels interop ${_tr})
      if(_codec STREQUAL "pickle")
        list(APPEND _labels pickle)
      endif()
      foreach(_case order sizes big)
        nq_interop(interop_${_pname}_${_tr}_${_codec}_${_case} ${NQ_REF_PYTHON}
          ${_pair} ${_case} ${_tls} --codec ${_codec} LABELS ${_labels})
      endforeach()
    endforeach()
  endforeach()
  nq_interop(interop_${_pname}_tcp_readme ${NQ_REF_PYTHON} ${_pair} readme
    LABELS interop tcp pickle)
endforeach()
# reference clients against `nq server --workers 2` (sessions on 2 I/O threads)
foreach(_case order big)
  nq_interop(interop_pyclient_cserver_tls_workers2_${_case} ${NQ_REF_PYTHON}
    pyclient-cserver ${_case} --tls --workers 2 LABELS interop tls scale)
endforeach()
nq_interop(interop_pyclient_cserver_tcp_pickle_values ${NQ_REF_PYTHON}
  pyclient-cserver values --codec pickle LABELS interop tcp pickle)
nq_interop(interop_pyclient_cserver_tls_pickle_values ${NQ_REF_PYTHON}
  pyclient-cserver values --tls --codec pickle LABELS interop tls pickle)

# nq x nq: no reference needed, any Python 3 runs the driver.
if(Python3_Interpreter_FOUND)
  foreach(_tr tcp tls)
    set(_tls)
    if(_tr STREQUAL "tls")
      set(_tls --tls)
    endif()
    foreach(_dialect current legacy)
      set(_legacy)
      set(_labels cli ${_tr})
      if(_dialect STREQUAL "legacy")
        set(_legacy --legacy)
        list(APPEND _labels legacy)
      endif()
      foreach(_case order sizes big)
        nq_interop(cli_cclient_cserver_${_tr}_${_dialect}_${_case} ${Python3_EXECUTABLE}
          cclient-cserver ${_case} ${_tls} ${_legacy} LABELS ${_labels})
      endforeach()
    endforeach()
  endforeach()
  nq_interop(cli_cclient_cserver_tcp_current_pickle_order ${Python3_EXECUTABLE}
    cclient-cserver order --codec pickle LABELS cli tcp pickle)
  # nq server --workers: the same exchanges with the sessions on 2 I/O threads
  foreach(_case order big)
    nq_interop(cli_cclient_cserver_tcp_workers2_${_case} ${Python3_EXECUTABLE}
      cclient-cserver ${_case} --workers 2 LABELS cli tcp scale)
  endforeach()
endif()

add_test(NAME cli_usage COMMAND bash ${_nq_interop_dir}/cli_usage.sh $<TARGET_FILE:nq>)
set_tests_properties(cli_usage PROPERTIES LABELS "cli" TIMEOUT 60)
add_test(NAME cli_stats COMMAND bash ${_nq_interop_dir}/cli_stats.sh $<TARGET_FILE:nq>)
set_tests_properties(cli_stats PROPERTIES LABELS "cli" TIMEOUT 60)
