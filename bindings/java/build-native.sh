#!/usr/bin/env bash
# Generate the SWIG Java sources and build libnetqueue_jni.so (run by Maven
# in generate-sources). Args: INCLUDE_DIR LIB_DIR TARGET_DIR. The JNI
# library gets an rpath to LIB_DIR, so only java.library.path (or the copy
# inside the jar) is needed to load it.
set -euo pipefail
inc=$1 lib=$2 target=$3
here=$(cd "$(dirname "$0")" && pwd)
src=$target/generated-sources/swig/org/netqueue/swig
mkdir -p "$src" "$target/native" "$target/classes/native/linux-x86_64"
java_home=${JAVA_HOME:-$(dirname "$(dirname "$(readlink -f "$(command -v javac)")")")}
wrap=$target/native/nqswig_wrap.c
swig -java -package org.netqueue.swig -I"$inc" -outdir "$src" -o "$wrap" "$here/../swig/netqueue.i"
${CC:-cc} -shared -fPIC -O2 -Wall -fno-strict-aliasing -I"$inc" -I"$java_home/include" -I"$java_home/include/linux" \
    "$wrap" -o "$target/native/libnetqueue_jni.so" -L"$lib" -Wl,-rpath,"$lib" -lnetqueue
cp "$target/native/libnetqueue_jni.so" "$target/classes/native/linux-x86_64/"
