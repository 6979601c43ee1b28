#!/usr/bin/env bash
# Run a single-file example of bindings/java/examples against the built
# binding (mvn package or test first):  run-example.sh Hello.java ARGS...
# target/classes holds native/linux-x86_64/ as the jar does, so the example
# loads both native libraries the way a user's program loads them from the
# jar (extracted to a private temporary directory).
here=$(cd "$(dirname "$0")" && pwd)
exec java -cp "$here/target/classes" "$here/examples/$1" "${@:2}"
