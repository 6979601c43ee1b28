"""MQTT 3.1.1 through a broker (wire-protocol notes §3 MQTT): the client
publishes its byte stream on c2s/<own hex> and reads s2c/<own hex>; the
server reads c2s/+ and answers each client on s2c/<client hex>. QoS 0,
one publish = one piece of the stream. paho-mqtt's network thread feeds
the sessions; one writer thread per link publishes."""
import re
import threading
import time
import uuid

import paho.mqtt.client as mqtt

from . import mutants as M
from .session import Session, warn

PIECE = 512 << 10  # bytes of the stream per publish
TOPIC = re.compile(r"^c2s/([0-9a-f]{32})$")


def hexid(b):
    h = b.hex()
    return h.upper() if M.on("mqtt-hex-upper") else h


def topics(role):
    """(the topic prefix we publish on, the one we read), per role."""
    up, down = ("s2c/", "c2s/") if M.on("mqtt-topic-swap") else ("c2s/", "s2c/")
    return (up, down) if role == "client" else (down, up)


def new_client(comm, on_message):
    c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id=hexid(comm.id),
                    protocol=mqtt.MQTTv311, clean_session=True)
    c.on_message = lambda cl, ud, msg: on_message(msg.topic, msg.payload)
    c.max_queued_messages_set(0)
    return c


def connect(c, a, topic, subscribe=True, timeout=10.0):
    """Connect and (unless told not to) subscribe, waiting for the SUBACK."""
    acked = threading.Event()
    connected = threading.Event()
    c.on_connect = lambda *args: connected.set()
    c.on_subscribe = lambda *args: acked.set()
    c.connect(a.host, a.port, keepalive=60)
    c.loop_start()
    if not connected.wait(timeout):
        raise OSError(f"no CONNACK from the broker {a.host}:{a.port} within {timeout} s")
    if subscribe:
        c.subscribe(topic, qos=1 if M.on("mqtt-qos1") else 0)
        if not acked.wait(timeout):
            raise OSError(f"no SUBACK for {topic} within {timeout} s")


class Link:
    def __init__(self, comm, client, topic_out):
        self.comm, self.client, self.topic_out = comm, client, topic_out
        self.session = Session(comm, self)
        self.finishing = self.aborted = False
        self.on_end = None
        threading.Thread(target=self._write, daemon=True).start()

    def finish(self):
        self.finishing = True
        self.comm.cond.notify_all()
        if self.on_end:
            self.on_end(self)

    def abort(self):
        self.aborted = True
        self.session.link_lost()
        self.comm.cond.notify_all()
        if self.on_end:
            self.on_end(self)

    def gate(self):
        """True while the writer must not publish yet (the client's
        subscription); a client overrides it."""
        return False

    def _write(self):
        s, cond = self.session, self.comm.cond
        qos = 1 if M.on("mqtt-qos1") else 0
        while True:
            with cond:
                while not (s.q or s.lost or self.aborted or self.finishing) or self.gate() or s.held():
                    cond.wait(0.5)
                if s.lost or self.aborted or (not s.q and self.finishing):
                    return
                data, cbs = s.take(PIECE)
            info = self.client.publish(self.topic_out, data, qos=qos)
            if info.rc == mqtt.MQTT_ERR_SUCCESS:
                # flow control: the next piece once paho has written this one
                try:
                    info.wait_for_publish(30)
                except (RuntimeError, ValueError):
                    pass
            if info.rc != mqtt.MQTT_ERR_SUCCESS or not info.is_published():
                warn(f"publish on {self.topic_out}: {mqtt.error_string(info.rc)}")
                for cb in cbs:
                    cb(False, "publish failed")
                with cond:
                    s.link_lost()
                return
            s.sent(cbs)


class Server:
    def __init__(self, comm, a):
        self.comm, self.a = comm, a
        self.port = a.port
        self.links = {}  # topic -> Link
        self.accepting = True
        self.prefix_out, self.prefix_in = topics("server")
        self.client = new_client(comm, self._message)

    def start(self):
        connect(self.client, self.a, self.prefix_in + "+")

    def _message(self, topic, payload):
        if M.on("mqtt-malformed-topic"):
            ok = topic.startswith(self.prefix_in)
            h = topic[len(self.prefix_in):]
        else:
            m = TOPIC.match(topic.replace("s2c/", "c2s/", 1) if M.on("mqtt-topic-swap") else topic)
            ok, h = bool(m), (m.group(1) if m else "")
        if not ok:
            warn(f"a publish on {topic!r}, not a client topic: ignored")
            return
        with self.comm.cond:
            link = self.links.get(topic)
            if link is None:
                if not self.accepting:
                    return
                link = Link(self.comm, self.client, self.prefix_out + (h.upper() if M.on("mqtt-hex-upper") else h))
                link.on_end = self._ended
                link.topic_in = topic
                if M.on("mqtt-id-from-topic"):
                    link.session.topic_id = uuid.UUID(hex=h[:32].ljust(32, "0")).bytes_le
                self.links[topic] = link
        link.session.on_bytes(payload)

    def _ended(self, link):
        # a later ini on that topic starts a new session
        if self.links.get(link.topic_in) is link:
            del self.links[link.topic_in]

    def stop_accepting(self):
        self.accepting = False

    def stop(self):
        self.accepting = False
        with self.comm.cond:
            for l in list(self.links.values()):
                if not l.session.done:
                    l.abort()
        try:
            self.client.disconnect()
            self.client.loop_stop()
        except Exception:  # noqa: BLE001 (already gone)
            pass


class ClientLink(Link):
    def __init__(self, comm, client, topic_out):
        self.subscribed = False
        super().__init__(comm, client, topic_out)

    def gate(self):
        return not self.subscribed


class Client:
    def __init__(self, comm, a):
        self.comm, self.a = comm, a
        self.port = a.port
        up, down = topics("client")
        self.topic_in = down + hexid(comm.id)
        self.mqtt = new_client(comm, self._message)
        self.link = ClientLink(comm, self.mqtt, up + hexid(comm.id))
        comm.client = self.link.session
        with comm.cond:
            self.link.session.queue_ini()

    def start(self):
        threading.Thread(target=self._connect, daemon=True).start()

    def _connect(self):
        late = M.on("mqtt-publish-before-subscribe")
        try:
            connect(self.mqtt, self.a, self.topic_in, subscribe=not late)
        except OSError as e:
            warn(str(e))
            with self.comm.cond:
                self.link.session.link_lost()
            return
        with self.comm.cond:
            self.link.subscribed = True
            self.comm.cond.notify_all()
        if late:
            # publishes first and subscribes without waiting for anything,
            # the SUBSCRIBE leaving as late as a slow broker's SUBACK would
            time.sleep(0.2)
            self.mqtt.subscribe(self.topic_in, qos=0)

    def _message(self, topic, payload):
        self.link.session.on_bytes(payload)

    def stop_accepting(self):
        pass

    def stop(self):
        with self.comm.cond:
            if not self.link.session.done:
                self.link.abort()
        try:
            self.mqtt.disconnect()
            self.mqtt.loop_stop()
        except Exception:  # noqa: BLE001
            pass
