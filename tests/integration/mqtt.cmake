# MQTT integration tests: C x C through a private mosquitto each test
# starts on free loopback ports (tests/support/mosquitto.c).
if(NQ_WITH_MQTT AND PAHO_LIBRARY)
  nq_add_test(it_mqtt SOURCES mqtt.c ${_nqt} ${PROJECT_SOURCE_DIR}/tests/support/mosquitto.c
    LABELS mqtt PUBLIC CERTS TIMEOUT 300)
  target_link_libraries(it_mqtt PRIVATE ${PAHO_LIBRARY})
  target_include_directories(it_mqtt PRIVATE ${PAHO_INCLUDE_DIR})
endif()
