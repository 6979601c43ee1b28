# The walkthroughs under examples/ (tls, mqtt, grpc): each README's steps,
# run by its walkthrough.sh with this build's nq. A transport that is not
# built fails its walkthrough, like any missing prerequisite.
foreach(_w tls mqtt grpc)
  add_test(NAME example_${_w}_walkthrough
    COMMAND bash ${PROJECT_SOURCE_DIR}/examples/${_w}/walkthrough.sh)
  set_tests_properties(example_${_w}_walkthrough PROPERTIES LABELS "unit;${_w}" TIMEOUT 120
    ENVIRONMENT "NQ=$<TARGET_FILE:nq>")
endforeach()
