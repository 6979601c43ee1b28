# Sourced by the package tests: what they share. The caller defines
# fail MESSAGE (prints and exits) and kills $server in its exit trap.

# start_echo_server LOG CMD...: run CMD (an `nq server --echo --host
# 127.0.0.1 --port 0`, whichever nq the test installed) in the background,
# its stderr in LOG, and wait until it says where it listens: sets $server
# (its pid) and $port, or fails with what it said.
start_echo_server() {
    local log=$1 i
    shift
    : >"$log" # before the job starts: the first look at it may come first
    "$@" >/dev/null 2>"$log" &
    server=$!
    port=
    for i in $(seq 100); do
        port=$(sed -n 's/^nq: listening on 127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p' "$log")
        [ -n "$port" ] && return 0
        kill -0 "$server" 2>/dev/null || break
        sleep 0.1
    done
    fail "$1 server never said where it listens: $(cat "$log")"
}
