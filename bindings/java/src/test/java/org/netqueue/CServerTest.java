package org.netqueue;

import static org.junit.jupiter.api.Assertions.*;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/** A Java client against the C server `nq server --echo`. */
class CServerTest {
    static final Duration T = Duration.ofSeconds(30);

    @Test
    void roundTrip() throws Exception {
        try (Support.CServer srv = new Support.CServer("--echo");
             Communicator c = Communicator.client(Support.at(srv.port))) {
            byte[] hello = "Hello, Server!".getBytes(StandardCharsets.UTF_8);
            c.put(hello).get();
            Message m = c.get(T);
            assertArrayEquals(hello, m.data());
            assertEquals(c.peers().get(0), m.peer(), "the echo comes from the server we are connected to");
        }
    }

    @Test
    void sixteenMiBMessage() throws Exception {
        byte[] big = new byte[16 << 20];
        new Random(7).nextBytes(big);
        try (Support.CServer srv = new Support.CServer("--echo");
             Communicator c = Communicator.client(Support.at(srv.port))) {
            c.put(big).get();
            assertArrayEquals(big, c.get(T).data());
        }
    }

    @Test
    void tenThousandMessagesInOrder() throws Exception {
        int n = 10_000;
        try (Support.CServer srv = new Support.CServer("--echo");
             Communicator c = Communicator.client(Support.at(srv.port))) {
            List<CompletableFuture<Void>> puts = new ArrayList<>();
            for (int i = 0; i < n; i++) puts.add(c.put(ByteBuffer.allocate(4).putInt(i).array()));
            for (int i = 0; i < n; i++) {
                assertEquals(i, ByteBuffer.wrap(c.get(T).data()).getInt(), "message " + i + " out of order");
            }
            CompletableFuture.allOf(puts.toArray(new CompletableFuture[0])).get();
        }
    }
}
