# The committed ABI baseline must not record the machine that made it:
# no absolute path in any attribute (corpus, compilation directory,
# translation units, locations), and neither this source tree nor this
# build tree anywhere. scripts/abi-baseline.sh writes it so.
add_test(NAME abi_baseline_paths COMMAND sh -c
  "f='${PROJECT_SOURCE_DIR}/abi/netqueue.abi'; [ -s \"$f\" ] || { echo \"missing $f\"; exit 1; }; \
   bad=$(grep -o \"[a-z-]*='/[^']*'\" \"$f\" | sort -u | head -5); \
   if [ -n \"$bad\" ]; then echo \"absolute paths in $f (re-run scripts/abi-baseline.sh):\"; echo \"$bad\"; exit 1; fi; \
   for d in '${PROJECT_SOURCE_DIR}' '${PROJECT_BINARY_DIR}'; do \
     if grep -qF \"$d\" \"$f\"; then echo \"$f names $d\"; exit 1; fi; done; \
   grep -q \"path='src/core/comm.c'\" \"$f\" || { echo \"$f: no translation unit src/core/comm.c (not an abidw corpus?)\"; exit 1; }; \
   echo 'abi baseline: no machine paths'")
set_tests_properties(abi_baseline_paths PROPERTIES LABELS "unit;abi" TIMEOUT 30)
