package org.netqueue;

import static org.junit.jupiter.api.Assertions.*;

import java.time.Duration;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

/**
 * Every setter of CommunicatorOptions refuses at once, with
 * IllegalArgumentException, what the library's nq_options_set_* refuses
 * (with the library's message and its EINVAL as cause), and accepts the
 * limits of each range; the binding's own refusals (nulls, negative
 * durations) say so too. Each refused call leaves the options unchanged.
 */
class OptionsValidationTest {
    /** The setter throws IllegalArgumentException with this exact message, from the C layer. */
    static void refusedByLibrary(String message, Executable setter) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, setter);
        assertEquals(message, e.getMessage());
        NetqueueException cause = assertInstanceOf(NetqueueException.class, e.getCause(), "the library's error as cause");
        assertEquals(Status.EINVAL, cause.status());
        assertEquals("invalid argument: " + message, cause.getMessage());
    }

    /** The setter throws IllegalArgumentException with this message, from the binding. */
    static void refusedByBinding(String message, Executable setter) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, setter);
        assertEquals(message, e.getMessage());
    }

    @Test
    void port() {
        CommunicatorOptions o = new CommunicatorOptions();
        refusedByLibrary("options: port 70000 is not in 0..65535", () -> o.port(70000));
        refusedByLibrary("options: port -1 is not in 0..65535", () -> o.port(-1));
        refusedByLibrary("options: port 65536 is not in 0..65535", () -> o.port(65536));
        o.port(0).port(65535);
    }

    @Test
    void host() {
        CommunicatorOptions o = new CommunicatorOptions();
        refusedByLibrary("options: host must be 1..255 bytes", () -> o.host(null));
        refusedByLibrary("options: host must be 1..255 bytes", () -> o.host(""));
        refusedByLibrary("options: host must be 1..255 bytes", () -> o.host("h".repeat(256)));
        o.host("h".repeat(255)).host("::1").host("localhost");
    }

    @Test
    void workers() {
        CommunicatorOptions o = new CommunicatorOptions();
        refusedByLibrary("options: workers 0 is not in 1..64", () -> o.workers(0));
        refusedByLibrary("options: workers 65 is not in 1..64", () -> o.workers(65));
        refusedByLibrary("options: workers -3 is not in 1..64", () -> o.workers(-3));
        o.workers(1).workers(64);
    }

    @Test
    void transportSize() {
        CommunicatorOptions o = new CommunicatorOptions();
        refusedByLibrary("options: transport size 4095 is not in 4 KiB..1 GiB", () -> o.transportSize(4095));
        refusedByLibrary("options: transport size 1073741825 is not in 4 KiB..1 GiB", () -> o.transportSize((1L << 30) + 1));
        refusedByLibrary("options: transport size is negative", () -> o.transportSize(-1));
        o.transportSize(4096).transportSize(1L << 30);
    }

    @Test
    void messageLimit() {
        CommunicatorOptions o = new CommunicatorOptions();
        refusedByLibrary("options: message limit is negative", () -> o.messageLimit(-1));
        refusedByLibrary("options: message limit " + ((1L << 62) + 1) + " is above 2^62", () -> o.messageLimit((1L << 62) + 1));
        o.messageLimit(0).messageLimit(1L << 62);
    }

    @Test
    void queueLimit() {
        CommunicatorOptions o = new CommunicatorOptions();
        refusedByLibrary("options: queue limit 1023 is not in 1 KiB..2^62", () -> o.queueLimit(1023));
        refusedByLibrary("options: queue limit 0 is not in 1 KiB..2^62", () -> o.queueLimit(0));
        refusedByLibrary("options: queue limit is negative", () -> o.queueLimit(-1024));
        o.queueLimit(1024).queueLimit(1L << 62);
    }

    @Test
    void queuePolicyAndId() {
        CommunicatorOptions o = new CommunicatorOptions();
        refusedByBinding("options: queue policy is null", () -> o.queuePolicy(null));
        for (QueuePolicy p : QueuePolicy.values()) o.queuePolicy(p);
        UUID before = o.id();
        refusedByBinding("options: id is null", () -> o.id(null));
        assertEquals(before, o.id(), "a refused id leaves the options unchanged");
        UUID nil = new UUID(0, 0);
        assertEquals(nil, o.id(nil).id());
    }

    @Test
    void durations() {
        CommunicatorOptions o = new CommunicatorOptions();
        refusedByLibrary("options: keepalive 999 ms is not 0 or 1000..86400000", () -> o.keepalive(Duration.ofMillis(999)));
        refusedByLibrary("options: keepalive 86400001 ms is not 0 or 1000..86400000",
                () -> o.keepalive(Duration.ofDays(1).plusMillis(1)));
        // rounded up to whole milliseconds: 999.5 ms is 1000 ms, accepted
        o.keepalive(Duration.ofNanos(999_500_000));
        refusedByLibrary("options: keepalive 9223372036854775807 ms is not 0 or 1000..86400000",
                () -> o.keepalive(Duration.ofSeconds(Long.MAX_VALUE)));
        refusedByBinding("options: keepalive PT-1S is negative", () -> o.keepalive(Duration.ofSeconds(-1)));
        refusedByBinding("options: connect timeout PT-0.001S is negative", () -> o.connectTimeout(Duration.ofMillis(-1)));
        o.keepalive(null).keepalive(Duration.ZERO).keepalive(Duration.ofSeconds(1)).keepalive(Duration.ofDays(1));
        o.connectTimeout(null).connectTimeout(Duration.ZERO).connectTimeout(Duration.ofSeconds(Long.MAX_VALUE));
    }

    @Test
    void tlsPaths() {
        CommunicatorOptions o = new CommunicatorOptions();
        refusedByLibrary("options: TLS key path is an empty string", () -> o.tlsServer("", "cert.pem"));
        refusedByLibrary("options: TLS certificate path is an empty string", () -> o.tlsServer("key.pem", ""));
        refusedByBinding("options: TLS key path is null", () -> o.tlsServer(null, "cert.pem"));
        refusedByBinding("options: TLS certificate path is null", () -> o.tlsServer("key.pem", null));
        refusedByLibrary("options: TLS CA path is an empty string", () -> o.tlsClient(""));
        refusedByLibrary("options: TLS server name is an empty string", () -> o.tlsServerName(""));
        o.tlsClient(null).tlsClient("ca.pem").tlsServerName(null).tlsServerName("example.org").tlsServer("key.pem", "cert.pem");
    }

    @Test
    void communicatorArguments() {
        CommunicatorOptions o = Support.at(0);
        refusedByBinding("comm: protocol is null", () -> new Communicator(null, Purpose.SERVER, o));
        refusedByBinding("comm: purpose is null", () -> new Communicator(Protocol.TCP, null, o));
        refusedByBinding("comm: options is null", () -> new Communicator(Protocol.TCP, Purpose.SERVER, null));
    }

    @Test
    void aRefusedValueLeavesTheOptionsAsTheyWere() throws Exception {
        CommunicatorOptions o = Support.at(0);
        assertThrows(IllegalArgumentException.class, () -> o.port(70000));
        assertThrows(IllegalArgumentException.class, () -> o.host(""));
        try (Communicator s = Communicator.server(o)) {
            assertTrue(s.port() > 0, "still port 0 on 127.0.0.1: an ephemeral port was bound");
        }
    }
}
