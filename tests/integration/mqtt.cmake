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

# netqueue across several brokers (labels scale;mqtt): mosquittos bridged
# both ways, a broker killed mid-stream, RabbitMQ's MQTT plugin. One
# executable, one ctest test per group (each well under a minute).
if(NQ_WITH_MQTT AND PAHO_LIBRARY)
  set(_brk_src mqtt_brokers.c ${_nqt} ${PROJECT_SOURCE_DIR}/tests/support/mosquitto.c
    ${PROJECT_SOURCE_DIR}/tests/support/rabbitmq.c)
  nq_add_test(it_mqtt_bridge SOURCES ${_brk_src} LABELS scale mqtt interop PUBLIC TIMEOUT 120 ARGS bridge)
  target_link_libraries(it_mqtt_bridge PRIVATE ${PAHO_LIBRARY})
  target_include_directories(it_mqtt_bridge PRIVATE ${PAHO_INCLUDE_DIR})
  target_compile_definitions(it_mqtt_bridge PRIVATE NQT_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  add_test(NAME it_mqtt_bridge_restart COMMAND it_mqtt_bridge restart)
  # fails with MISSING PREREQUISITE when rabbitmq-server is not installed
  add_test(NAME it_mqtt_rabbitmq COMMAND it_mqtt_bridge rabbitmq)
  add_test(NAME it_mqtt_bridge_fanout COMMAND it_mqtt_bridge fanout)
  set_tests_properties(it_mqtt_bridge_fanout PROPERTIES LABELS "scale;mqtt" TIMEOUT 120
    ENVIRONMENT "NQ_REF_PYTHON=${NQ_REF_PYTHON};LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/support/lsan.supp")
  add_test(NAME it_mqtt_bridge_limits COMMAND it_mqtt_bridge limits)
  set_tests_properties(it_mqtt_bridge_limits PROPERTIES LABELS "scale;mqtt" TIMEOUT 120
    ENVIRONMENT "NQ_REF_PYTHON=${NQ_REF_PYTHON};LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/support/lsan.supp")
  set_tests_properties(it_mqtt_bridge_restart PROPERTIES LABELS "scale;mqtt;fault" TIMEOUT 120
    ENVIRONMENT "NQ_REF_PYTHON=${NQ_REF_PYTHON};LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/support/lsan.supp")
  set_tests_properties(it_mqtt_rabbitmq PROPERTIES LABELS "scale;mqtt;interop" TIMEOUT 120
    ENVIRONMENT "NQ_REF_PYTHON=${NQ_REF_PYTHON};LSAN_OPTIONS=suppressions=${PROJECT_SOURCE_DIR}/tests/support/lsan.supp")
endif()
