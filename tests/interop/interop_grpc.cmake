# gRPC interop: the nq tool against the Python reference's gRPC
# communicators (net_queue.gprc with its grpcio) both ways, raw and pickle,
# plain and TLS; nq x nq over gRPC too. run_interop.py --protocol grpc.
if(NOT TARGET nq OR NOT NQ_WITH_GRPC OR NOT EXISTS ${PROJECT_SOURCE_DIR}/src/grpc)
  return()
endif()
foreach(_pair cclient-pyserver pyclient-cserver)
  string(REPLACE "-" "_" _pname ${_pair})
  foreach(_tr plain tls)
    set(_tls)
    if(_tr STREQUAL "tls")
      set(_tls --tls)
    endif()
    foreach(_codec raw pickle)
      foreach(_case order sizes big)
        nq_interop(interop_grpc_${_pname}_${_tr}_${_codec}_${_case} ${NQ_REF_PYTHON}
          ${_pair} ${_case} ${_tls} --codec ${_codec} --protocol grpc LABELS interop grpc)
      endforeach()
    endforeach()
  endforeach()
endforeach()
nq_interop(interop_grpc_pyclient_cserver_plain_pickle_values ${NQ_REF_PYTHON}
  pyclient-cserver values --codec pickle --protocol grpc LABELS interop grpc)
if(Python3_Interpreter_FOUND)
  foreach(_case order sizes big)
    nq_interop(cli_grpc_cclient_cserver_${_case} ${Python3_EXECUTABLE}
      cclient-cserver ${_case} --protocol grpc LABELS cli grpc)
  endforeach()
  nq_interop(cli_grpc_cclient_cserver_tls_order ${Python3_EXECUTABLE}
    cclient-cserver order --tls --protocol grpc LABELS cli grpc)
endif()
