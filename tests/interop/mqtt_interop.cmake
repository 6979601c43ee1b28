# MQTT interop: the nq tool against the Python reference's MQTT transport
# (net_queue.mqtt on paho-mqtt) both ways, raw and pickle, plain and TLS,
# through a mosquitto that run_interop.py --protocol mqtt starts on a free
# loopback port (TLS listener with the test certificates) and stops.
# Cases: order (6 ordered messages), sizes (empty, 1, 16 bytes), huge
# (17 MiB, over both sides' 16 MiB transport size, then a small one).
if(NOT TARGET nq OR NOT NQ_WITH_MQTT OR NOT EXISTS ${PROJECT_SOURCE_DIR}/src/mqtt)
  return()
endif()
foreach(_pair cclient-pyserver pyclient-cserver)
  string(REPLACE "-" "_" _pname ${_pair})
  foreach(_tr plain tls)
    set(_tls)
    set(_labels interop mqtt)
    if(_tr STREQUAL "tls")
      set(_tls --tls)
      list(APPEND _labels tls)
    endif()
    foreach(_codec raw pickle)
      set(_l ${_labels})
      if(_codec STREQUAL "pickle")
        list(APPEND _l pickle)
      endif()
      foreach(_case order sizes huge)
        nq_interop(interop_mqtt_${_pname}_${_tr}_${_codec}_${_case} ${NQ_REF_PYTHON}
          ${_pair} ${_case} ${_tls} --codec ${_codec} --protocol mqtt LABELS ${_l})
      endforeach()
    endforeach()
  endforeach()
endforeach()
nq_interop(interop_mqtt_pyclient_cserver_plain_pickle_values ${NQ_REF_PYTHON}
  pyclient-cserver values --codec pickle --protocol mqtt LABELS interop mqtt pickle)
