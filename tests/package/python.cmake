# The Python package (bindings/python) as users get it: the wheel that
# carries libnetqueue, and the sdist built against an installed libnetqueue
# (python.sh says how each is checked). They build in bindings/python
# (egg-info), hence the lock shared with the binding's own install test.
foreach(_mode wheel sdist)
  add_test(NAME package_python_${_mode}
    COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/python.sh ${_mode} ${PROJECT_SOURCE_DIR} ${CMAKE_BINARY_DIR})
  set_tests_properties(package_python_${_mode} PROPERTIES LABELS "package;python" TIMEOUT 600
    RESOURCE_LOCK bindings_pj_build)
endforeach()
