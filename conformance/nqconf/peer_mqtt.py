"""Scripted wire peer for MQTT: publishes crafted pieces of the framed
stream through a private mosquitto, no session logic.

Each case gets its own mosquitto on a free loopback port (generated
config, like tests/support/mosquitto.c): the implementation's server
subscribes to `c2s/+`, so two cases sharing a broker would see each
other's clients. The MQTT client is paho-mqtt (in .venv-ref); without it
the MQTT cases are UNSUPPORTED.

role "server" (the implementation serves): each connection is an MQTT
client of its own, client id = its id as hex, publishing pieces on
`c2s/<hex>` and subscribed to `s2c/<hex>`. role "client": one MQTT client
plays the server, subscribed to `c2s/+`; a connection is a client topic
seen for the first time; its pieces go to `s2c/<hex>`. One send piece is
one publish (QoS 0, like the reference); an empty piece is an empty
publish.
"""
import os
import queue
import shutil
import subprocess
import tempfile
import threading
import time

from .adapter import Unsupported
from .peer_stream import StreamLink, show
from .peer_tcp import HOST, free_port

try:
    import paho.mqtt.client as mqtt
except ImportError:  # the runner's Python has no paho: MQTT cases are UNSUPPORTED
    mqtt = None


def start_broker():
    """-> (Popen, (host, port), directory) of a fresh mosquitto."""
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not os.path.exists(exe):
        raise Unsupported("mosquitto is not installed")
    d = tempfile.mkdtemp(prefix="nq-conf-mqtt-")
    for _ in range(5):
        port = free_port()
        conf = os.path.join(d, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write(f"listener {port} {HOST}\nallow_anonymous true\npersistence false\n"
                    "max_queued_messages 100000\nmax_inflight_messages 0\n"
                    f"log_dest file {d}/log\nlog_type subscribe\nlog_timestamp false\n")
            if os.geteuid() == 0:
                f.write("user root\n")
        proc = subprocess.Popen([exe, "-c", conf], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 5
        import socket
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                socket.create_connection((HOST, port), timeout=0.5).close()
                return proc, (HOST, port), d
            except OSError:
                time.sleep(0.02)
        proc.kill()
        proc.wait()
    shutil.rmtree(d, ignore_errors=True)
    raise RuntimeError("mosquitto did not start")


def new_client(client_id, log, on_message):
    """A connected paho client (clean session, its loop running)."""
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=client_id, clean_session=True)
    c.max_queued_messages_set(0)
    c.max_inflight_messages_set(0)
    c.on_message = lambda cl, ud, msg: on_message(msg.topic, msg.payload)
    return c


def connect(c, addr, subscribe, timeout):
    ready = threading.Event()
    c.on_subscribe = lambda *a: ready.set()
    c.connect(addr[0], addr[1], keepalive=60)
    c.loop_start()
    c.subscribe(subscribe, qos=0)
    if not ready.wait(timeout):
        c.loop_stop()
        raise TimeoutError(f"no SUBACK for {subscribe} within {timeout} s")


def wait_subscribed(logfile, topic, timeout):
    """Wait until the broker logged a subscription to topic (QoS 0 keeps
    nothing for a topic nobody subscribed to: the first publish of a case
    must not race the implementation's subscription)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            with open(logfile, errors="replace") as f:
                if any(line.rstrip("\n").endswith(" " + topic) for line in f):
                    return True
        except OSError:
            pass
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)


class Link(StreamLink):
    def __init__(self, client, topic, log, name, own_client):
        super().__init__(log, name)
        self.client, self.topic, self.own_client = client, topic, own_client

    def send(self, pieces, delay=0.0):
        for i, p in enumerate(pieces):
            if i and delay:
                time.sleep(delay)
            self.publish(self.topic, p)

    def publish(self, topic, p):
        info = self.client.publish(topic, p, qos=0)
        if info.rc != mqtt.MQTT_ERR_SUCCESS:
            raise OSError(f"publish on {topic}: {mqtt.error_string(info.rc)}")
        info.wait_for_publish(10)
        self.log(f"peer {self.name} > {topic}: {show(p)}")

    def shutdown_write(self):
        self.log(f"peer {self.name}: half-close (nothing on MQTT; no more publishes)")

    def close(self, abort=False):
        if self.closed:
            return
        self.closed = True
        if not self.own_client:
            self.log(f"peer {self.name}: close (stops answering on {self.topic})")
            return
        self.log(f"peer {self.name}: {'drop the broker connection' if abort else 'MQTT disconnect'}")
        try:
            if abort:
                sock = self.client.socket()
                self.client.loop_stop()
                if sock:
                    sock.close()
            else:
                self.client.disconnect()
                self.client.loop_stop()
        except Exception:  # noqa: BLE001 (gone already)
            pass


class Peer:
    wants_step = True

    def __init__(self, transport, role, certs, log):
        if mqtt is None:
            raise Unsupported("paho-mqtt is not installed in the runner's Python")
        self.role, self.log = role, log
        self.ids = {}
        self.links = []
        self.port = None
        self.server = None          # role client: our "server" MQTT client
        self.by_hex = {}            # role client: client hex -> Link
        self.accepted = queue.Queue()
        self.proc, self.addr, self.dir = start_broker()
        self.logfile = os.path.join(self.dir, "log")
        self.server_subscribed = False
        self.log(f"peer: mosquitto on {self.addr[0]}:{self.addr[1]}")

    def adapter_args(self, opts):
        return ["--host", self.addr[0], "--port", str(self.addr[1])]

    # -- role client: we are the server ---------------------------------------

    def listen(self, cert=None):
        self.port = self.addr[1]
        self.server_hex = os.urandom(16).hex()
        self.server = new_client(self.server_hex, self.log, self._server_message)
        connect(self.server, self.addr, "c2s/+", 10)
        self.log("peer: subscribed to c2s/+ (playing the server)")

    def _server_message(self, topic, payload):
        hexid = topic[4:]
        link = self.by_hex.get(hexid)
        if link is None:
            link = Link(self.server, "s2c/" + hexid, self.log, f"@{hexid[:8]}", False)
            self.by_hex[hexid] = link
            self.log(f"peer: first publish on {topic}")
            self.accepted.put(link)
        if not link.closed:
            link.feed(payload)

    # -- both -------------------------------------------------------------------

    def open(self, name, timeout, handshake=True, step=None):
        step = step or {}
        if self.role == "client":
            try:
                link = self.accepted.get(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no client publish within {timeout} s") from None
            link.name = name
            self.log(f"peer {name}: is the client on {link.topic}")
            # answer_at_once: answer like a real server, without first
            # seeing the client's subscription (a client must subscribe
            # before it publishes: mqtt/7)
            if not step.get("answer_at_once") and not wait_subscribed(self.logfile, link.topic, timeout):
                raise TimeoutError(f"the client did not subscribe to {link.topic} within {timeout} s")
            self.links.append(link)
            return link
        if not self.server_subscribed:
            if not wait_subscribed(self.logfile, "c2s/+", timeout):
                raise TimeoutError(f"the server did not subscribe to c2s/+ within {timeout} s")
            self.server_subscribed = True
        hexid = self.ids[name].hex()
        if step.get("topic_of"):  # a topic whose hex is not the ini id
            self.ids.setdefault(step["topic_of"], os.urandom(16))
            hexid = self.ids[step["topic_of"]].hex()
        holder = {}
        sub = "s2c/" + hexid

        def on_message(topic, payload):
            if topic != sub:
                self.log(f"peer {name}: (publish on {topic}, not {sub})")
            holder["link"].feed(payload)
        if step.get("topic_of"):  # see where the server answers: both ids' topics
            sub_topic = "s2c/+"
        else:
            sub_topic = sub
        c = new_client(hexid, self.log, on_message)
        link = Link(c, "c2s/" + hexid, self.log, name, True)
        holder["link"] = link
        connect(c, self.addr, sub_topic, timeout)
        self.log(f"peer {name}: MQTT client {hexid}, subscribed to {sub_topic}")
        self.links.append(link)
        return link

    def call(self, run, s):
        """Raw MQTT actions: {"op": "empty"} an empty publish on the
        connection's topic; {"op": "publish", "topic": T, "raw": HEX} a
        publish on any topic ("{hex:NAME}" in T is that id's hex)."""
        name, link = run.link(s)
        op = s.get("op")
        if op == "empty":
            link.publish(link.topic, b"")
        elif op == "publish":
            topic = s["topic"]
            for k, v in run.ids.items():
                topic = topic.replace("{hex:%s}" % k, v.hex())
            link.publish(topic, bytes.fromhex(s.get("raw", "")))
        else:
            raise ValueError(f"unknown mqtt call {op!r}")

    def close(self):
        for link in self.links:
            link.close()
        if self.server:
            try:
                self.server.disconnect()
                self.server.loop_stop()
            except Exception:  # noqa: BLE001
                pass
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.dir, ignore_errors=True)
