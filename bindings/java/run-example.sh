#!/usr/bin/env bash
# Run a single-file example of bindings/java/examples against the built
# binding (mvn package or test first):  run-example.sh Hello.java ARGS...
here=$(cd "$(dirname "$0")" && pwd)
exec java -cp "$here/target/classes" -Djava.library.path="$here/target/native" \
    "$here/examples/$1" "${@:2}"
