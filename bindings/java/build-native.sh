#!/usr/bin/env bash
# Generate the SWIG Java sources and build libnetqueue_jni.so, then stage the
# two native libraries the jar carries (run by Maven in generate-sources).
#   build-native.sh includedir=DIR libdir=DIR target=DIR version=X.Y.Z
# includedir / libdir (-Dnetqueue.includedir / -Dnetqueue.libdir) name the C
# library to build against; each one left empty comes from the environment
# (NETQUEUE_INCLUDE_DIR / NETQUEUE_LIB_DIR, as ctest sets them), else from
# pkg-config (an installed libnetqueue). Reads nothing outside this Maven
# project but that library: the SWIG interface is src/main/swig/netqueue.i.
#
# Out:
#   TARGET/generated-sources/swig        the generated Java (org.netqueue.swig)
#   TARGET/native/                       libnetqueue_jni.so + libnetqueue.so.1
#   TARGET/classes/native/linux-x86_64/  the same two, packed into the jar
# The JNI library's RUNPATH is $ORIGIN only; the libnetqueue copied in must
# have no RPATH/RUNPATH (it would point into whatever tree built it), and its
# version must be the project's (the jar's version follows the ABI's).
set -euo pipefail
inc= lib= target= version=
for a in "$@"; do
    case $a in
        includedir=*) inc=${a#*=} ;;
        libdir=*) lib=${a#*=} ;;
        target=*) target=${a#*=} ;;
        version=*) version=${a#*=} ;;
        *) printf 'build-native.sh: unknown argument %s\n' "$a" >&2; exit 2 ;;
    esac
done
[ -n "$target" ] && [ -n "$version" ] || { echo "build-native.sh: target= and version= are required" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
die() { printf 'build-native.sh: %s\n' "$*" >&2; exit 1; }

from_pc() {
    pkg-config --exists netqueue 2>/dev/null ||
        die "no C library given: pass -Dnetqueue.includedir=... -Dnetqueue.libdir=..., set NETQUEUE_INCLUDE_DIR/NETQUEUE_LIB_DIR, or install libnetqueue (pkg-config netqueue)"
    pkg-config --variable="$1" netqueue
}
inc=${inc:-${NETQUEUE_INCLUDE_DIR:-}}
lib=${lib:-${NETQUEUE_LIB_DIR:-}}
[ -n "$inc" ] || inc=$(from_pc includedir)
[ -n "$lib" ] || lib=$(from_pc libdir)
[ -f "$inc/netqueue/netqueue.h" ] || die "no netqueue/netqueue.h under $inc"
[ -e "$lib/libnetqueue.so.1" ] || die "no libnetqueue.so.1 in $lib"

# The headers' ABI version must be the project's version.
abi=$(sed -n 's/^#define NQ_ABI_VERSION_\(MAJOR\|MINOR\|PATCH\) \([0-9]*\).*/\2/p' "$inc/netqueue/version.h" | paste -sd.)
[ "$abi" = "$version" ] || die "$inc/netqueue/version.h is ABI $abi, this project is $version"
real=$(readlink -f "$lib/libnetqueue.so.1")
case $(basename "$real") in
    libnetqueue.so.*.*.*) [ "$(basename "$real")" = "libnetqueue.so.$version" ] ||
        die "$real is not libnetqueue $version" ;;
esac
if readelf -d "$real" | grep -qE '\((RPATH|RUNPATH)\)'; then
    die "$real has an RPATH/RUNPATH ($(readelf -d "$real" | grep -E 'R(UN)?PATH' | sed 's/.*: //')): it must not go into the jar"
fi
echo "build-native.sh: libnetqueue $version from $lib (headers $inc)"

src=$target/generated-sources/swig/org/netqueue/swig
res=$target/classes/native/linux-x86_64
mkdir -p "$src" "$target/native" "$res"
java_home=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}
wrap=$target/native/nqswig_wrap.c
swig -java -package org.netqueue.swig -I"$inc" -outdir "$src" -o "$wrap" "$here/src/main/swig/netqueue.i"
# -l:libnetqueue.so.1 links against the runtime name, so no dev symlink
# (libnetqueue.so) is needed; NEEDED is the SONAME either way.
${CC:-cc} -shared -fPIC -O2 -Wall -fno-strict-aliasing -I"$inc" -I"$java_home/include" -I"$java_home/include/linux" \
    "$wrap" -o "$target/native/libnetqueue_jni.so" -L"$lib" -l:libnetqueue.so.1 \
    -Wl,--enable-new-dtags,-rpath,'$ORIGIN'
cp --remove-destination "$real" "$target/native/libnetqueue.so.1"
cp --remove-destination "$target/native/libnetqueue_jni.so" "$target/native/libnetqueue.so.1" "$res/"
