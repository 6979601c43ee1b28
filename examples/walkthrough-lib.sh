# Helpers of the walkthrough scripts (examples/*/walkthrough.sh), sourced:
# find nq, a private work folder, servers on free loopback ports that are
# stopped at exit, and steps that check what they print. Each step echoes
# its command and output, so a run reads like the README it goes with; any
# step that does not do what the README says fails the script.
set -euo pipefail

NQ=${NQ:-$(command -v nq || true)}
if [ -z "$NQ" ] || [ ! -x "$NQ" ]; then
    echo "walkthrough: nq not found: put it on PATH or set NQ=/path/to/nq (a build has build/src/cli/nq)" >&2
    exit 1
fi
work=$(mktemp -d)
pids=()               # everything started, stopped at exit
declare -A server_pid # nq servers by name
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${pids[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
show() { printf '$ %s\n' "$*"; }

die() {
    echo "walkthrough: FAILED: $*" >&2
    exit 1
}

# A free TCP port on the loopback address (for programs, like mosquitto,
# that cannot be told to pick one and say which).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_port PORT PID WHAT: until something listens on PORT (10 s at most).
wait_port() {
    local i
    for i in $(seq 100); do
        kill -0 "$2" 2>/dev/null || die "$3 exited before listening on $1"
        if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
        sleep 0.1
    done
    die "$3 did not listen on $1 within 10 s"
}

# start_server NAME ARGS...: `nq server ARGS` in the background, its output
# in $work/NAME.out and .err; waits for its "listening on HOST:PORT" line
# and sets PORT to the port it names.
start_server() {
    local name=$1 i
    shift
    show "nq server $*"
    : >"$work/$name.err" # before the job starts: the first look at it may come first
    "$NQ" server "$@" >"$work/$name.out" 2>"$work/$name.err" &
    pids+=($!)
    server_pid[$name]=$!
    for i in $(seq 100); do
        PORT=$(sed -n 's/^nq: listening on .*:\([0-9][0-9]*\) (.*)$/\1/p' "$work/$name.err")
        if [ -n "$PORT" ]; then
            sed -n '1p' "$work/$name.err"
            return 0
        fi
        kill -0 "${server_pid[$name]}" 2>/dev/null || { cat "$work/$name.err" >&2; die "nq server $name exited"; }
        sleep 0.1
    done
    cat "$work/$name.err" >&2
    die "nq server $name did not say it was listening within 10 s"
}

# client_ok EXPECTED ARGS...: `nq client ARGS` must exit 0 and print a line
# ending in EXPECTED (the reply's text).
client_ok() {
    local expected=$1 rc=0
    shift
    show "nq client $*"
    "$NQ" client "$@" >"$work/client.out" 2>"$work/client.err" || rc=$?
    cat "$work/client.out" "$work/client.err"
    [ "$rc" -eq 0 ] || die "nq client exited $rc, expected 0"
    grep -q " $expected\$" "$work/client.out" || die "nq client did not print the reply '$expected'"
}

# client_fails CODE PATTERN ARGS...: `nq client ARGS` must exit CODE and
# say PATTERN (an extended regular expression) on stderr.
client_fails() {
    local code=$1 pattern=$2 rc=0
    shift 2
    show "nq client $*"
    "$NQ" client "$@" >"$work/client.out" 2>"$work/client.err" || rc=$?
    cat "$work/client.out" "$work/client.err"
    echo "(exit status $rc)"
    [ "$rc" -eq "$code" ] || die "nq client exited $rc, expected $code"
    grep -qE "$pattern" "$work/client.err" || die "nq client did not say: $pattern"
}

# server_said NAME PATTERN: the server's stderr has a line matching PATTERN.
server_said() {
    grep -E "$2" "$work/$1.err" | head -2
    grep -qE "$2" "$work/$1.err" || die "server $1 did not log: $2"
}

# server_received NAME N: the server printed exactly N messages.
server_received() {
    local n
    n=$(wc -l <"$work/$1.out")
    echo "server $1 received $n message(s)"
    [ "$n" -eq "$2" ] || { cat "$work/$1.out"; die "server $1 received $n messages, expected $2"; }
}

# stop_server NAME: SIGINT to that server, which closes and must exit 0.
stop_server() {
    local pid=${server_pid[$1]} rc=0
    kill -INT "$pid"
    wait "$pid" || rc=$?
    unset "server_pid[$1]"
    [ "$rc" -eq 0 ] || die "nq server $1 exited $rc on SIGINT"
}
