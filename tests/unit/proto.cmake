# proto/conformance.proto is the conformance suite's schema: it must parse
# (it imports google/protobuf/struct.proto, from Debian's libprotobuf-dev).
nq_prog(NQ_PROTOC_C protoc-c)
add_test(NAME conformance_proto_parses COMMAND ${NQ_REQUIRE} prog:${NQ_PROTOC_C} -- ${NQ_PROTOC_C} --proto_path=${PROJECT_SOURCE_DIR}/proto
  --proto_path=/usr/include --c_out=${CMAKE_CURRENT_BINARY_DIR} ${PROJECT_SOURCE_DIR}/proto/conformance.proto)
set_tests_properties(conformance_proto_parses PROPERTIES LABELS "unit;conformance")
