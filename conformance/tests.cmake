# ctest: the runner's own unit tests, then the suite against our library
# (label conformance) and against the Python reference (conformance;interop).
find_program(NQ_CONF_PYTHON3 python3 REQUIRED)
set(_certs ${CMAKE_BINARY_DIR}/test-certs)
set(_runner ${CMAKE_BINARY_DIR}/nq-conformance)
set(_dir ${CMAKE_CURRENT_SOURCE_DIR})

add_test(NAME conformance_runner_unit
  COMMAND ${NQ_CONF_PYTHON3} -m unittest discover -s ${_dir}/tests -t ${_dir})
set_tests_properties(conformance_runner_unit PROPERTIES LABELS "conformance;unit" TIMEOUT 120)

# The runner as a program (coverage check, python3 -m nqconf[.cli],
# progress lines) against a test adapter that implements nothing; a
# separate module (runner_cli.py, not matched by discover's test*.py)
# because it starts subprocesses.
add_test(NAME conformance_runner_cli
  COMMAND ${NQ_CONF_PYTHON3} -m unittest tests.runner_cli
  WORKING_DIRECTORY ${_dir})
set_tests_properties(conformance_runner_cli PROPERTIES LABELS "conformance;unit" TIMEOUT 120)

# The HTML report (nqconf/html_report.py) of real runs, as headless
# Chromium renders it: a short TCP selection against our adapter, one that
# refuses everything and one that fails on purpose (hostile stderr), the
# page made from their JSON reports, its DOM and a screenshot checked
# (tests/html_browser.py). Fails, saying so, without chromium.
add_test(NAME conformance_html_report
  COMMAND ${NQ_REQUIRE} prog:chromium -- ${NQ_CONF_PYTHON3} ${_dir}/tests/html_browser.py
          --nq $<TARGET_FILE:nq> --runner ${_runner})
set_tests_properties(conformance_html_report PROPERTIES LABELS "conformance;cli" TIMEOUT 300
  RESOURCE_LOCK nq_conformance)

# Transports the suite runs: all four. MQTT cases start a private
# mosquitto per case; gRPC cases use grpcio. Without mosquitto, paho-mqtt
# or grpcio in the runner's Python (or a library built without gRPC, whose
# adapter exits 127) those cases are UNSUPPORTED, not failed.
set(_transports tcp,tls,mqtt,grpc)

# Reports go to the build tree: conformance-<impl>.json / .xml. Not --quiet:
# the summary then ends with the wire log of each unexpected failure (none
# when all pass), which is all a CI run's output can say about it.
add_test(NAME conformance_netqueue
  COMMAND ${_runner} --adapter "$<TARGET_FILE:nq> adapter" --name netqueue
          --transport ${_transports} --certs ${_certs}
          --expected ${_dir}/known-failures-netqueue.json
          --json ${CMAKE_BINARY_DIR}/conformance-netqueue.json
          --junit ${CMAKE_BINARY_DIR}/conformance-netqueue.xml)
set_tests_properties(conformance_netqueue PROPERTIES LABELS "conformance;tcp;tls;mqtt;grpc"
  TIMEOUT 600 FIXTURES_REQUIRED certs RESOURCE_LOCK nq_conformance)

add_test(NAME conformance_reference
  COMMAND ${NQ_REQUIRE} ref:${NQ_CONF_VENV} -- ${_runner} --adapter "${NQ_CONF_VENV} ${_dir}/adapters/ref_adapter.py"
          --name python-reference --transport ${_transports} --certs ${_certs}
          --expected ${_dir}/deviations.json
          --json ${CMAKE_BINARY_DIR}/conformance-reference.json
          --junit ${CMAKE_BINARY_DIR}/conformance-reference.xml)
set_tests_properties(conformance_reference PROPERTIES LABELS "conformance;interop;tcp;tls;mqtt;grpc"
  TIMEOUT 600 FIXTURES_REQUIRED certs RESOURCE_LOCK nq_conformance)

# build/conformance.html: the page of both runs above, side by side (it
# reads the reference's report, hence interop: test.sh runs it in the same
# pass as conformance_reference, after conformance_netqueue).
add_test(NAME conformance_html
  COMMAND ${_runner} --html ${CMAKE_BINARY_DIR}/conformance.html
          --from ${CMAKE_BINARY_DIR}/conformance-netqueue.json ${CMAKE_BINARY_DIR}/conformance-reference.json)
set_tests_properties(conformance_html PROPERTIES LABELS "conformance;interop" TIMEOUT 120
  DEPENDS "conformance_netqueue;conformance_reference")

# Mutation testing of the suite itself (docs/conformance.md, "Self-test"):
# the independent implementation (selftest/mini) must pass every protocol
# case, then each of its one-bug mutants must FAIL one; under 95 % killed
# on any transport fails. Needs .venv-ref's Python (paho-mqtt, grpcio:
# mini runs with the runner's Python) and mosquitto.
add_test(NAME conformance_self_test
  COMMAND ${NQ_REQUIRE} ref:${NQ_CONF_VENV} prog:mosquitto -- ${_runner} --self-test
          --transport ${_transports} --certs ${_certs} --jobs 2 --min-kill 95 --quiet
          --json ${CMAKE_BINARY_DIR}/conformance-self-test.json)
set_tests_properties(conformance_self_test PROPERTIES LABELS "conformance;tcp;tls;mqtt;grpc"
  TIMEOUT 600 FIXTURES_REQUIRED certs RESOURCE_LOCK nq_conformance)
