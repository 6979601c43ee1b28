#!/usr/bin/env bash
# Package test of the jar (bindings/java): the jar alone, in a directory
# outside the tree, with no LD_LIBRARY_PATH, no netqueue.libdir and no
# libnetqueue anywhere the dynamic linker looks, does an echo round trip
# with `nq server --echo` on loopback; the libnetqueue it ran is the one the
# jar carried (checked in /proc/self/maps).
#   java.sh SOURCE_DIR BUILD_DIR
# 1. cmake --install the build into a temporary prefix;
# 2. copy bindings/java alone out of the tree (symlinks followed) and build
#    the jar there with mvn, the C library coming from the prefix through
#    pkg-config (what a user's `mvn install` does);
# 3. check the jar: coordinates and version (= abi/netqueue/version.h), both
#    native libraries, the copy of libnetqueue identical to the installed one
#    and without RPATH/RUNPATH, the JNI library's RUNPATH $ORIGIN only;
# 4. keep the jar and nq (with the libnetqueue it needs, in a directory of
#    its own that only nq's LD_LIBRARY_PATH names), delete the prefix and
#    the Maven copy;
# 5. compile and run JarEcho.java (next to this script) against the jar.
set -euo pipefail
src=$(cd "$1" && pwd) build=$(cd "$2" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
say() { printf 'package/java: %s\n' "$*"; }
fail() { printf 'package/java: FAIL: %s\n' "$*" >&2; exit 1; }

for tool in mvn javac java swig cc pkg-config readelf cmake; do
    command -v "$tool" >/dev/null ||
        fail "$tool is missing (scripts/setup.sh installs it: scripts/setup.d/bindings-python-java.sh)"
done

work=$(mktemp -d "${TMPDIR:-/tmp}/nq-package-java.XXXXXX")
server=
cleanup() {
    if [ -n "$server" ]; then kill "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT
# Nothing from the caller's environment may point Java at a libnetqueue.
unset LD_LIBRARY_PATH LD_PRELOAD NETQUEUE_LIBDIR NETQUEUE_INCLUDE_DIR NETQUEUE_LIB_DIR \
    JAVA_TOOL_OPTIONS _JAVA_OPTIONS JDK_JAVA_OPTIONS CLASSPATH

# 1. the C library, installed
cmake --install "$build" --prefix "$work/prefix" >"$work/install.log" ||
    { cat "$work/install.log" >&2; fail "cmake --install $build failed"; }
pc=$(find "$work/prefix" -name netqueue.pc -print -quit)
[ -n "$pc" ] || fail "the install has no netqueue.pc"
installed=$(readlink -f "$(dirname "$(dirname "$pc")")/libnetqueue.so.1")
[ -f "$installed" ] || fail "the install has no libnetqueue.so.1 next to $pc"

# 2. the Maven project alone, built against the install. Offline when the
# local Maven repository already has everything (set-up built the project).
cp -rL "$src/bindings/java" "$work/mvn"
rm -rf "$work/mvn/target"
mvn_package() {
    (cd "$work/mvn" && PKG_CONFIG_PATH="$(dirname "$pc")" mvn -B -q "$@" -DskipTests package) >"$work/mvn.log" 2>&1
}
if ! mvn_package -o; then
    say "offline build failed, trying online (log: $(tail -3 "$work/mvn.log" | tr '\n' ' '))"
    mvn_package || { cat "$work/mvn.log" >&2; fail "mvn package in a copy of bindings/java failed"; }
fi
grep -q "libnetqueue .* from $(dirname "$pc")" "$work/mvn.log" ||
    { cat "$work/mvn.log" >&2; fail "the build did not take libnetqueue from pkg-config's install"; }

# 3. the jar
version=$(sed -n 's/^#define NQ_ABI_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' \
    "$src/abi/netqueue/version.h" | paste -sd.)
jar=$work/mvn/target/netqueue-$version.jar
[ -f "$jar" ] || fail "no $(basename "$jar") (the jar's version must be version.h's $version): $(ls "$work/mvn/target")"
mkdir -p "$work/app" "$work/check"
cp "$jar" "$work/app/"
jar=$work/app/$(basename "$jar")
(cd "$work/check" && unzip -q "$jar" 'native/*' 'META-INF/maven/*')
props=$work/check/META-INF/maven/org.netqueue/netqueue/pom.properties
[ -f "$props" ] || fail "the jar is not org.netqueue:netqueue (no $props)"
grep -qx "version=$version" "$props" || fail "pom.properties says $(grep version= "$props"), version.h $version"
nat=$work/check/native/linux-x86_64
for f in libnetqueue.so.1 libnetqueue_jni.so; do [ -f "$nat/$f" ] || fail "the jar has no native/linux-x86_64/$f"; done
cmp -s "$nat/libnetqueue.so.1" "$installed" || fail "the jar's libnetqueue.so.1 is not the installed $installed"
if readelf -d "$nat/libnetqueue.so.1" | grep -E '\((RPATH|RUNPATH)\)'; then
    fail "the jar's libnetqueue.so.1 has an RPATH/RUNPATH"
fi
jni_paths=$(readelf -d "$nat/libnetqueue_jni.so" | sed -n 's/.*(R\(UN\)\{0,1\}PATH).*\[\(.*\)\]/\2/p')
[ "$jni_paths" = '$ORIGIN' ] || fail "the JNI library's RPATH/RUNPATH is '$jni_paths', not \$ORIGIN"
readelf -d "$nat/libnetqueue_jni.so" | grep -q 'NEEDED.*\[libnetqueue.so.1\]' ||
    fail "the JNI library does not need libnetqueue.so.1"
say "jar $(basename "$jar"): org.netqueue:netqueue:$version, libnetqueue.so.1 = the installed one, no RUNPATH; JNI RUNPATH \$ORIGIN"

# 4. nq and its libnetqueue in a directory of their own; the rest goes
mkdir -p "$work/tool/bin" "$work/tool/lib"
cp "$work/prefix/bin/nq" "$work/tool/bin/"
cp -P "$(dirname "$installed")"/libnetqueue.so.1* "$work/tool/lib/"
rm -rf "$work/prefix" "$work/mvn" "$work/check"
if LD_LIBRARY_PATH=$work/tool/lib ldd "$work/tool/bin/nq" | grep -E "$build|$src|not found"; then
    fail "nq resolves into the tree or misses a library"
fi
# A libnetqueue installed system-wide (another package test may install the
# .deb for a while) does not blur the result: JarEcho reads which library
# the JVM mapped, and requires it to be the jar's and the only one.
if ldconfig -p | grep -q 'libnetqueue\.so'; then
    say "note: the dynamic linker also knows $(ldconfig -p | grep -m1 libnetqueue | sed 's/^[[:space:]]*//')"
fi

# 5. the program, from the jar's directory
: >"$work/server.err" # before the job starts: the first look at it may come first
LD_LIBRARY_PATH=$work/tool/lib "$work/tool/bin/nq" server --echo --host 127.0.0.1 --port 0 \
    >"$work/server.out" 2>"$work/server.err" &
server=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/.*listening on .*:\([0-9]*\).*/\1/p' "$work/server.err" | head -1)
    [ -n "$port" ] && break
    kill -0 "$server" 2>/dev/null || { cat "$work/server.err" >&2; fail "nq server exited"; }
    sleep 0.1
done
[ -n "$port" ] || { cat "$work/server.err" >&2; fail "nq server did not say where it listens"; }

cd "$work/app"
cp "$here/java_echo.java" JarEcho.java
javac -cp "$jar" -d classes JarEcho.java
mkdir "$work/jtmp"
# The JVM's temporary directory is a fresh one, so the test can tell the
# jar's extraction directory (and that it is gone afterwards).
java -Djava.io.tmpdir="$work/jtmp" -cp "$jar:classes" JarEcho "$port" "$work/jtmp" ||
    fail "the Java program against the jar failed (above)"
say "ok"
