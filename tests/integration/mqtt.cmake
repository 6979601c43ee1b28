# MQTT integration tests: C x C through a private mosquitto each test
# starts on free loopback ports (tests/support/mosquitto.c).
if(NQ_WITH_MQTT AND PAHO_LIBRARY)
  nq_add_test(it_mqtt SOURCES mqtt.c ${_nqt} ${PROJECT_SOURCE_DIR}/tests/support/mosquitto.c
    ${PROJECT_SOURCE_DIR}/tests/support/tcpproxy.c
    LABELS mqtt PUBLIC CERTS TIMEOUT 300)
  target_link_libraries(it_mqtt PRIVATE ${PAHO_LIBRARY})
  target_include_directories(it_mqtt PRIVATE ${PAHO_INCLUDE_DIR})
  # the same file built with its security and fault tests: rogue broker
  # clients (garbage flood, impersonation against broker ACLs), broker TLS
  # with client certificates, a broker restarted without persistence
  nq_add_test(it_mqtt_fault SOURCES mqtt.c ${_nqt} ${PROJECT_SOURCE_DIR}/tests/support/mosquitto.c
    ${PROJECT_SOURCE_DIR}/tests/support/tcpproxy.c
    LABELS mqtt fault PUBLIC CERTS TIMEOUT 300)
  target_compile_definitions(it_mqtt_fault PRIVATE NQT_MQTT_FAULT=1)
  target_link_libraries(it_mqtt_fault PRIVATE ${PAHO_LIBRARY})
  target_include_directories(it_mqtt_fault PRIVATE ${PAHO_INCLUDE_DIR})
endif()

# Interop: the MQTT demo exchange (C server, C client and the Python
# reference client through a private mosquitto).
if(NQ_WITH_MQTT AND TARGET nq)
  add_test(NAME interop_mqtt_demo COMMAND ${NQ_REQUIRE} ref:${PROJECT_SOURCE_DIR}/.venv-ref/bin/python prog:mosquitto
    -- bash ${PROJECT_SOURCE_DIR}/scripts/demo.d/mqtt.sh)
  set_tests_properties(interop_mqtt_demo PROPERTIES LABELS "mqtt;interop;pickle" TIMEOUT 120
    ENVIRONMENT "NQ=$<TARGET_FILE:nq>")
endif()
