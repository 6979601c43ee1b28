#!/usr/bin/env bash
# man/nq.1 against the nq it documents: every option that `nq --help`,
# `nq server --help` and `nq client --help` print is in the page, every
# option the page names is one nq has, and groff and mandoc render the page
# without a warning.
#   manpage.sh NQ PAGE
set -uo pipefail
nq=${1:?usage: manpage.sh NQ PAGE}
page=${2:?usage: manpage.sh NQ PAGE}
fail=0
for tool in groff mandoc col; do
    if ! command -v "$tool" >/dev/null; then
        echo "FAIL: $tool not found: install the Debian packages groff-base, mandoc and bsdextrautils (scripts/setup.sh does)"
        exit 1
    fi
done

opts() { grep -oE -- '--[a-z][a-z-]*[a-z]' | sort -u; }
help=$( { "$nq" --help; "$nq" server --help; "$nq" client --help; } 2>&1) || {
    echo "FAIL: $nq --help failed"; exit 1; }
help_opts=$(printf '%s\n' "$help" | opts)
[ -n "$help_opts" ] || { echo "FAIL: no option in nq --help"; exit 1; }

# The page as a reader sees it (ASCII, so \- is -), overstrikes removed,
# unhyphenated and on long lines so that no option is broken.
text=$(groff -man -Tascii -rHY=0 -rLL=250n "$page" 2>/dev/null | col -b)
page_opts=$(printf '%s\n' "$text" | opts)

missing=$(comm -23 <(printf '%s\n' "$help_opts") <(printf '%s\n' "$page_opts"))
extra=$(comm -13 <(printf '%s\n' "$help_opts") <(printf '%s\n' "$page_opts"))
if [ -n "$missing" ]; then
    echo "FAIL: options of nq --help missing from $page:"; printf '  %s\n' $missing; fail=1
fi
if [ -n "$extra" ]; then
    echo "FAIL: options in $page that nq --help does not know:"; printf '  %s\n' $extra; fail=1
fi
echo "options: $(printf '%s\n' "$help_opts" | wc -l) in nq --help, all in the page unless listed above"

# Exit codes of the help text are the page's.
for code in 0 1 2 3; do
    if ! printf '%s\n' "$text" | sed -n '/^EXIT STATUS/,/^ENVIRONMENT/p' | grep -qE "^ +$code\b"; then
        echo "FAIL: exit status $code not described in $page"; fail=1
    fi
done

warn=$(groff -man -Tutf8 -ww -z "$page" 2>&1)
if [ -n "$warn" ]; then echo "FAIL: groff -ww warns:"; printf '%s\n' "$warn"; fail=1; fi
warn=$(mandoc -Tlint -W style "$page" 2>&1)
if [ -n "$warn" ]; then echo "FAIL: mandoc -Tlint warns:"; printf '%s\n' "$warn"; fail=1; fi

[ "$fail" -eq 0 ] && echo "nq.1: complete and clean"
exit "$fail"
