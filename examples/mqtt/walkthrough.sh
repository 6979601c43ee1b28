#!/usr/bin/env bash
# The MQTT walkthrough of README.md, run for real: a private mosquitto on a
# free loopback port with a password file and the ACL of ./acl, a netqueue
# server and client through it with their accounts, a wrong password, and
# a client account posing as a server that gets nothing. Everything runs in
# a temporary folder and is stopped at the end.
#   NQ=/path/to/nq examples/mqtt/walkthrough.sh      (default: nq on PATH)
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../walkthrough-lib.sh"
for tool in mosquitto mosquitto_passwd; do
    command -v "$tool" >/dev/null ||
        die "$tool not found: install the Debian package mosquitto (scripts/setup.sh does)"
done

step "1. Accounts: a password file with one account for the server, one for clients"
mkdir "$work/broker"
cd "$work/broker"
show "mosquitto_passwd -c -b passwd nq-server server-secret"
mosquitto_passwd -c -b passwd nq-server server-secret
show "mosquitto_passwd -b passwd nq-client client-secret"
mosquitto_passwd -b passwd nq-client client-secret
cut -d: -f1 passwd

step "2. The broker: loopback only, no anonymous clients, the ACL of examples/mqtt/acl"
cp "$here/acl" acl
broker=$(free_port)
{
    # as root, mosquitto would switch to its own user, who cannot read this folder
    [ "$(id -u)" -ne 0 ] || echo "user root"
    echo "listener $broker 127.0.0.1"
    echo "allow_anonymous false"
    echo "password_file $PWD/passwd"
    echo "acl_file $PWD/acl"
    echo "persistence false"
} > mosquitto.conf
cat mosquitto.conf
show "mosquitto -c mosquitto.conf"
mosquitto -c mosquitto.conf >mosquitto.log 2>&1 &
pids+=($!)
wait_port "$broker" "${pids[-1]}" mosquitto

step "3. A netqueue server and client through the broker, each with its account"
start_server server --protocol mqtt --port "$broker" --username nq-server --password server-secret --echo
client_ok hello --protocol mqtt --port "$broker" --username nq-client --password client-secret --put hello --get 1

step "4. A wrong password: the broker refuses the connection"
client_fails 1 'cannot connect to the broker' \
    --protocol mqtt --port "$broker" --username nq-client --password wrong --put hello --connect-timeout 1000

step "5. The ACL: a client account posing as a server reads nobody's messages"
show "nq server --protocol mqtt --port $broker --username nq-client --password client-secret --timeout 3000"
"$NQ" server --protocol mqtt --port "$broker" --username nq-client --password client-secret \
    --timeout 3000 >"$work/rogue.out" 2>"$work/rogue.err" &
rogue=$!
pids+=($rogue)
for i in $(seq 100); do
    grep -q 'listening on' "$work/rogue.err" && break
    sleep 0.1
done
client_ok secret --protocol mqtt --port "$broker" --username nq-client --password client-secret --put secret --get 1
rc=0
wait "$rogue" || rc=$?
cat "$work/rogue.err"
[ "$rc" -eq 3 ] || die "the posing server exited $rc, expected 3 (no message within its timeout)"
[ ! -s "$work/rogue.out" ] || die "the posing server read: $(cat "$work/rogue.out")"
echo "the posing server got nothing; the real one got both messages:"
cat "$work/server.out"
server_received server 2
stop_server server

step "done: the broker admits only its accounts, and the ACL keeps each client to its topics"
