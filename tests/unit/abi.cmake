# The public headers compile on their own, pedantically, as C99 and C++.
add_test(NAME headertest COMMAND sh -c
  "cc -std=c99 -pedantic -Wall -Wextra -Werror -fsyntax-only -I'${PROJECT_SOURCE_DIR}/abi' -x c '${PROJECT_SOURCE_DIR}/abi/netqueue/netqueue.h' && \
   c++ -std=c++11 -pedantic -Wall -Wextra -Werror -fsyntax-only -I'${PROJECT_SOURCE_DIR}/abi' -x c++ '${PROJECT_SOURCE_DIR}/abi/netqueue/netqueue.h'")
set_tests_properties(headertest PROPERTIES LABELS "unit;abi")

# Only nq_* symbols leave the shared library, under NETQUEUE_1.0 or the
# 1.x node that added them (abi/netqueue.map).
add_test(NAME exported_symbols COMMAND sh -c
  "out=$(nm -D --defined-only '$<TARGET_FILE:netqueue>' | awk '{print $3}' | grep -v '^NETQUEUE_1\\.[0-9]*$' | grep -v '^nq_' || true); \
   if [ -n \"$out\" ]; then echo \"unexpected exports: $out\"; exit 1; fi; \
   objdump -T '$<TARGET_FILE:netqueue>' | grep -q 'NETQUEUE_1.0 *nq_comm_new' && \
   objdump -T '$<TARGET_FILE:netqueue>' | grep -q 'NETQUEUE_1.1 *nq_options_set_keepalive' && \
   objdump -T '$<TARGET_FILE:netqueue>' | grep -q 'NETQUEUE_1.2 *nq_comm_stats' && \
   objdump -T '$<TARGET_FILE:netqueue>' | grep -q 'NETQUEUE_1.2 *nq_stats_get' && \
   for f in nq_options_set_events nq_comm_get_async nq_comm_get_future nq_future_take_msg \
            nq_comm_get_cq nq_cq_next_msg nq_comm_get_cancel nq_comm_fd nq_msg_kind_of \
            nq_msg_event_detail; do \
     objdump -T '$<TARGET_FILE:netqueue>' | grep -q \"NETQUEUE_1.2 *$f\$\" || { echo \"$f is not in NETQUEUE_1.2\"; exit 1; }; \
   done && \
   objdump -p '$<TARGET_FILE:netqueue>' | grep -q 'SONAME *libnetqueue.so.1'")
set_tests_properties(exported_symbols PROPERTIES LABELS "unit;abi")

# ABI stability against the stored baseline (abi/netqueue.abi, made by
# scripts/abi-baseline.sh): adding functions is fine, changing is not.
nq_prog(ABIDIFF abidiff)
add_test(NAME abi_compat COMMAND ${NQ_REQUIRE} prog:${ABIDIFF} -- sh -c
  "'${ABIDIFF}' --no-show-locs --headers-dir2 '${PROJECT_SOURCE_DIR}/abi/netqueue' '${PROJECT_SOURCE_DIR}/abi/netqueue.abi' '$<TARGET_FILE:netqueue>'; rc=$?; \
   if [ $((rc & 8)) -ne 0 ] || [ $((rc & 1)) -ne 0 ]; then exit 1; fi; exit 0")
set_tests_properties(abi_compat PROPERTIES LABELS "unit;abi")
