// Java binding sender of bench/bindings_bench.py (see bench/put_bench.c,
// the C baseline, for the session): hello, wait for "ready", put COUNT
// messages of SIZE bytes with at most WINDOW futures outstanding, wait for
// every future, get "done", print one JSON line.
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

import org.netqueue.Communicator;
import org.netqueue.CommunicatorOptions;

public class PutBench {
    public static void main(String[] args) {
        String host = "127.0.0.1";
        int port = 0, size = 64, count = 1000, window = 0;
        for (int i = 0; i + 1 < args.length; i += 2) {
            String v = args[i + 1];
            switch (args[i]) {
                case "--host" -> host = v;
                case "--port" -> port = Integer.parseInt(v);
                case "--size" -> size = Integer.parseInt(v);
                case "--count" -> count = Integer.parseInt(v);
                case "--window" -> window = Integer.parseInt(v);
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        if (window <= 0)
            window = count;
        byte[] payload = new byte[size];
        Arrays.fill(payload, (byte) 'x');
        int failed = 0;
        double tPut, tAll;
        try (Communicator q = Communicator.client(new CommunicatorOptions().host(host).port(port))) {
            q.put(("hello " + count + " " + size).getBytes(StandardCharsets.US_ASCII));
            q.get(Duration.ofSeconds(30)); // ready
            @SuppressWarnings("unchecked")
            CompletableFuture<Void>[] futures = new CompletableFuture[count];
            long t0 = System.nanoTime();
            for (int i = 0; i < count; i++) {
                if (i >= window)
                    futures[i - window].exceptionally(e -> null).join();
                futures[i] = q.put(payload);
            }
            for (CompletableFuture<Void> f : futures) {
                try {
                    f.join();
                } catch (RuntimeException e) {
                    failed++;
                }
            }
            tPut = (System.nanoTime() - t0) * 1e-9;
            q.get(Duration.ofSeconds(120)); // done: all arrived
            tAll = (System.nanoTime() - t0) * 1e-9;
            q.close(Duration.ofSeconds(10));
        }
        System.out.printf("{\"lang\": \"java\", \"count\": %d, \"size\": %d, \"window\": %d, \"failed\": %d, "
                + "\"put_s\": %.6f, \"seconds\": %.6f, \"msgs_per_s\": %.1f}%n",
                count, size, window, failed, tPut, tAll, count / tAll);
        System.exit(failed > 0 ? 1 : 0);
    }
}
