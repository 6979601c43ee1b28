# man/nq.1 documents every option of nq and renders without warnings.
add_test(NAME nq_manpage COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/manpage.sh
  $<TARGET_FILE:nq> ${PROJECT_SOURCE_DIR}/man/nq.1)
set_tests_properties(nq_manpage PROPERTIES LABELS "cli" TIMEOUT 60)
