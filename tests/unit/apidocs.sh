#!/usr/bin/env bash
# The API reference builds from the public headers without one Doxygen
# warning: every public function, type, macro and enum value is documented
# (WARN_IF_UNDOCUMENTED, WARN_AS_ERROR in docs/Doxyfile.in), and every
# NQ_API function of abi/netqueue/*.h has its entry in the HTML. Then the
# gate itself is checked: a copy of the headers with one undocumented
# function added must fail.
#   apidocs.sh DOXYFILE SOURCE_DIR
set -uo pipefail
doxyfile=${1:?usage: apidocs.sh DOXYFILE SOURCE_DIR}
src=${2:?usage: apidocs.sh DOXYFILE SOURCE_DIR}
if ! command -v doxygen >/dev/null; then
    echo "FAIL: doxygen not found: install the Debian package doxygen (scripts/setup.sh does)"
    exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# run OUT_DIR [extra Doxyfile lines]: doxygen on the configured Doxyfile
# with the output (and maybe more) overridden; its messages in OUT_DIR.log.
run() {
    local out=$1; shift
    mkdir -p "$out"
    { cat "$doxyfile"; echo "OUTPUT_DIRECTORY = $out"; printf '%s\n' "$@"; } |
        doxygen - >"$out.log" 2>&1
}

fail=0
if ! run "$tmp/doc" || grep -qiE 'warning|error' "$tmp/doc.log"; then
    echo "FAIL: doxygen over abi/netqueue/*.h is not clean:"
    sed "s|$src/||" "$tmp/doc.log"
    fail=1
fi
html=$tmp/doc/html
[ -f "$html/index.html" ] || { echo "FAIL: no $html/index.html"; exit 1; }

# Every exported function is in the index of documented functions (which
# lists documented members only, EXTRACT_ALL being off).
funcs=$(sed -n 's/^NQ_API[^(]*[ *]\(nq_[a-z0-9_]*\)(.*/\1/p' "$src"/abi/netqueue/*.h | sort -u)
n=0
for f in $funcs; do
    n=$((n + 1))
    grep -q "<li>$f()" "$html/globals_func.html" ||
        { echo "FAIL: $f is not in the reference's function index"; fail=1; }
done
[ "$n" -ge 50 ] || { echo "FAIL: only $n NQ_API functions found in $src/abi/netqueue"; fail=1; }
echo "apidocs: checked $n public functions against the index"

# The gate: an undocumented public function must fail the run.
mkdir -p "$tmp/abi/netqueue"
cp "$src"/abi/netqueue/*.h "$tmp/abi/netqueue/"
sed -i 's|^#ifdef __cplusplus$|NQ_API int nq_undocumented_probe(void);\n&|;' "$tmp/abi/netqueue/stream.h"
sed -i '0,/^NQ_API int nq_undocumented_probe/!{/^NQ_API int nq_undocumented_probe/d}' "$tmp/abi/netqueue/stream.h"
if run "$tmp/probe" "INPUT = $tmp/abi/netqueue" "STRIP_FROM_PATH = $tmp/abi" "USE_MDFILE_AS_MAINPAGE ="; then
    echo "FAIL: doxygen passed headers with an undocumented function:"; cat "$tmp/probe.log"; fail=1
elif ! grep -q nq_undocumented_probe "$tmp/probe.log"; then
    echo "FAIL: doxygen failed on the probe headers, but not for the probe:"; cat "$tmp/probe.log"; fail=1
else
    echo "apidocs: an undocumented function fails the run, as it should"
fi
[ "$fail" -eq 0 ] && echo "apidocs: clean"
exit "$fail"
