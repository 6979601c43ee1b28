#!/usr/bin/env bash
# deb.sh BUILD SRC VERSION: build the Debian packages (cpack -G DEB) from
# BUILD, install them for real with apt-get (root, or sudo), then, from a
# temporary directory outside the tree, build examples/echo_client.c with
# the system pkg-config, run it against the installed /usr/bin/nq and check
# the echo; check the man page if netqueue-tools has one. The packages, and
# any package apt pulled in for them, are purged at exit: the system is
# left as found. Needs the whole machine (ctest RUN_SERIAL).
set -euo pipefail
build=$1 src=$2 version=$3
pkgs=(libnetqueue1 libnetqueue-dev netqueue-tools)

fail() { echo "FAIL: $*" >&2; exit 1; }
. "$(dirname "$0")/lib.sh"
if [ "$(id -u)" = 0 ]; then
    as_root=()
elif sudo -n true 2>/dev/null; then
    as_root=(sudo -n)
else
    fail "installing the .deb packages needs root or password-less sudo (run as root, as CI does)"
fi
for p in "${pkgs[@]}"; do
    ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
        fail "$p is already installed: remove it first (apt-get remove ${pkgs[*]}); this test installs and removes its own"
done
command -v dpkg-shlibdeps >/dev/null || fail "dpkg-shlibdeps missing: apt-get install dpkg-dev (./scripts/setup.sh installs it)"

tmp=$(mktemp -d)
before=$tmp/packages-before
installed() { dpkg-query -W -f='${db:Status-Abbrev} ${Package}\n' | awk '$1 == "ii" {print $2}' | sort; }
installed >"$before"
server=
cleanup() {
    [ -n "$server" ] && kill -9 "$server" 2>/dev/null
    # ours, and whatever apt installed for them, so that nothing stays behind
    local extra
    extra=$(installed | comm -13 "$before" - | tr '\n' ' ')
    if [ -n "$extra" ]; then
        echo "removing: $extra"
        "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
            purge -y -q $extra >/dev/null || echo "WARNING: could not remove $extra" >&2
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

echo "== cpack -G DEB"
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/debs" >"$tmp/cpack.log" 2>&1 ||
    { cat "$tmp/cpack.log" >&2; fail "cpack -G DEB failed"; }
debs=()
for p in "${pkgs[@]}"; do
    f=$(echo "$tmp/debs/${p}_${version}_"*.deb)
    [ -f "$f" ] || fail "cpack made no ${p}_${version}_*.deb (made: $(ls "$tmp/debs"))"
    debs+=("$f")
    echo "$(basename "$f"): Depends: $(dpkg-deb -f "$f" Depends)"
done
dpkg-deb -f "${debs[1]}" Depends | grep -q "libnetqueue1 (= $version)" ||
    fail "libnetqueue-dev does not depend on libnetqueue1 (= $version)"

echo "== apt-get install"
"${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 \
    install -y -q --no-install-recommends "${debs[@]}" >"$tmp/apt.log" 2>&1 ||
    { cat "$tmp/apt.log" >&2; fail "apt-get install of the packages failed"; }
for p in "${pkgs[@]}"; do
    v=$(dpkg-query -W -f='${Version}' "$p")
    [ "$v" = "$version" ] || fail "$p installed as version '$v', expected $version"
done

# From outside the tree, with nothing of the build tree in reach: the
# system pkg-config path only, no LD_LIBRARY_PATH.
use=$tmp/use
mkdir "$use"
cp "$src/examples/echo_client.c" "$use/"
cd "$use"
unset PKG_CONFIG_PATH LD_LIBRARY_PATH
echo "== cc echo_client.c \$(pkg-config --cflags --libs netqueue): $(pkg-config --cflags --libs netqueue)"
# shellcheck disable=SC2046
cc -o echo_client echo_client.c $(pkg-config --cflags --libs netqueue) || fail "echo_client does not build"
lib=$(ldd ./echo_client | awk '$1 == "libnetqueue.so.1" {print $3}')
[ "$lib" -ef "$(dpkg -L libnetqueue1 | grep '/libnetqueue.so.1$')" ] ||
    fail "echo_client loads libnetqueue.so.1 from '$lib', not libnetqueue1's"
nq=$(command -v nq) && [ "$nq" -ef /usr/bin/nq ] || fail "nq on PATH is '${nq:-none}', not /usr/bin/nq"
if readelf -d /usr/bin/nq ./echo_client | grep -E 'RPATH|RUNPATH' | grep -q -e /work -e "$build" -e "$src"; then
    fail "an installed binary has a RUNPATH into the build or source tree"
fi
/usr/bin/nq --version | grep -q "$version" || fail "nq --version does not say $version: $(/usr/bin/nq --version)"

echo "== /usr/bin/nq server --echo, then echo_client"
start_echo_server "$tmp/server.err" /usr/bin/nq server --echo --host 127.0.0.1 --port 0
got=$(timeout 60 ./echo_client --port "$port" "hello from the .deb" "second line") ||
    fail "echo_client against /usr/bin/nq failed"
[ "$got" = "$(printf 'hello from the .deb\nsecond line')" ] || fail "echo_client printed '$got'"
kill -INT "$server"
timeout 20 tail --pid="$server" -f /dev/null || fail "nq server did not stop within 20 s of SIGINT"
server=
echo "echoed: $(echo "$got" | tr '\n' '|')"

# The man page, once the tools package has one (another change adds it).
if dpkg-deb -c "${debs[2]}" | grep -q '/man1/nq\.1'; then
    if grep -rqs 'path-exclude=/usr/share/man' /etc/dpkg/dpkg.cfg.d/; then
        echo "nq.1 is in netqueue-tools; this system's dpkg excludes /usr/share/man, so man -w is not checked"
    else
        man -w nq >/dev/null || fail "netqueue-tools ships nq.1 but 'man -w nq' does not find it"
        echo "man -w nq: $(man -w nq)"
    fi
else
    echo "netqueue-tools has no nq.1 yet: man page not checked"
fi
echo "deb: ${pkgs[*]} $version install, build a client with pkg-config, echo through /usr/bin/nq, and remove"
