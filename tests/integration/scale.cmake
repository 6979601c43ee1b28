# Many sessions on one server (issue 16, docs/scaling.md): bench/sessions.py
# --check with 10,000 raw-socket clients (sessions_fleet, another process)
# against a netqueue TCP server (sessions_server), workers 1 and 2: every
# session established, one broadcast reaching each client exactly once,
# targeted puts reaching only their targets, two rounds of every client
# resetting its link and coming back under a new id (20,000 sessions left
# lingering, every lost link counted), close OK with every client
# getting the server's fin, and the server's RSS per idle session under
# 2 KiB (measured 0.85-1.1 KiB). The two programs are defined here (tests
# come before bench/, which uses these targets).
if(NOT TARGET sessions_server)
  add_executable(sessions_server ${PROJECT_SOURCE_DIR}/bench/sessions_server.c)
  target_link_libraries(sessions_server PRIVATE netqueue)
  add_executable(sessions_fleet ${PROJECT_SOURCE_DIR}/bench/sessions_fleet.c)
endif()
find_package(Python3 COMPONENTS Interpreter REQUIRED)
add_test(NAME scale_sessions
  COMMAND ${Python3_EXECUTABLE} ${PROJECT_SOURCE_DIR}/bench/sessions.py --check
          --bin $<TARGET_FILE_DIR:sessions_server> --sessions 10000 --workers 1,2 --idle 1
          --target-msgs 20 --churn 2 --max-rss-per-session 2048 --timeout 60)
set_tests_properties(scale_sessions PROPERTIES LABELS "scale;tcp" TIMEOUT 180)
