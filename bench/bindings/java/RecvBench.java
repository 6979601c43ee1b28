// Java binding receive benchmark (bench/bindings/java/recv_bench.sh runs it
// next to the C build/bench/recv_bench): a Java server and a sender over
// TCP on loopback: with --sender PATH the C put_bench (build/bench/put_bench
// --role put, its session; the sender then costs both modes the same, and
// little), else a Java client thread. The sender puts COUNT messages of
// SIZE bytes; the server takes them with a blocking get loop (blocking), or
// with a window of WINDOW getAsync futures, each completion (on the
// binding's drain thread) asking for the next (async). Modes alternate in
// each repetition; the clock runs from the first put to the last message.
// Prints per mode the median and best rate, and async/blocking (time).
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import org.netqueue.Communicator;
import org.netqueue.CommunicatorOptions;
import org.netqueue.Message;

public class RecvBench {
    static final Duration T = Duration.ofSeconds(60);
    static String sender; // put_bench, or null: a Java client

    public static void main(String[] args) throws Exception {
        int size = 64, count = 200_000, reps = 3, window = 16;
        String only = System.getProperty("recvbench.only", ""); // "async": profile one mode
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (args[i].equals("--sender")) { sender = args[i + 1]; continue; }
            int v = Integer.parseInt(args[i + 1]);
            switch (args[i]) {
                case "--size" -> size = v;
                case "--count" -> count = v;
                case "--reps" -> reps = v;
                case "--window" -> window = v;
                default -> throw new IllegalArgumentException("unknown option " + args[i]);
            }
        }
        List<Double> blocking = new ArrayList<>(), async = new ArrayList<>();
        run(true, size, 50_000, window); // warm-up (JIT)
        run(false, size, 50_000, window);
        for (int r = 0; r < reps; r++) {
            boolean asyncFirst = r % 2 == 1;
            double a = 0, b = 0;
            if (asyncFirst || only.equals("async")) a = run(true, size, count, window);
            if (only.equals("async")) { blocking.add(a); async.add(a); continue; }
            b = run(false, size, count, window);
            if (!asyncFirst) a = run(true, size, count, window);
            blocking.add(b);
            async.add(a);
        }
        double mb = median(blocking), ma = median(async);
        System.out.printf("java %d B x %d, %d reps: blocking get median %.0f msg/s (best %.0f), getAsync window %d median %.0f msg/s (best %.0f), async time / blocking %.2f%n",
                size, count, reps, count / mb, count / min(blocking), window, count / ma, count / min(async), ma / mb);
        System.out.printf("JSON {\"size\": %d, \"count\": %d, \"blocking_msgs\": %.0f, \"async_msgs\": %.0f}%n",
                size, count, count / mb, count / ma);
    }

    static double median(List<Double> v) {
        double[] a = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    static double min(List<Double> v) { return v.stream().mapToDouble(Double::doubleValue).min().orElse(0); }

    /** One run: seconds from the first put to the last message received. */
    static double run(boolean async, int size, int count, int window) throws Exception {
        byte[] payload = new byte[size];
        Arrays.fill(payload, (byte) 'x');
        Process proc = null;
        try (Communicator s = Communicator.server(new CommunicatorOptions().host("127.0.0.1").port(0));
             Communicator c = sender != null ? null : Communicator.client(new CommunicatorOptions().host("127.0.0.1").port(s.port()))) {
            Thread putter;
            long t0;
            UUID peer = null;
            if (c != null) {
                c.put(new byte[1]).get(60, TimeUnit.SECONDS); // session up
                s.get(T);
                t0 = System.nanoTime();
                putter = new Thread(() -> {
                    CompletableFuture<Void> last = null;
                    for (int i = 0; i < count; i++) last = c.put(payload);
                    last.join();
                });
            } else {
                proc = new ProcessBuilder(sender, "--role", "put", "--host", "127.0.0.1", "--port",
                        Integer.toString(s.port()), "--size", Integer.toString(size), "--count",
                        Integer.toString(count), "--window", Integer.toString(count))
                        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.INHERIT).start();
                Message hello = s.get(T);
                peer = hello.peer();
                final UUID p = peer;
                putter = new Thread(() -> s.put("ready".getBytes(), p).join());
                t0 = System.nanoTime();
            }
            CountDownLatch done = new CountDownLatch(1);
            AtomicInteger got = new AtomicInteger();
            AtomicInteger posted = new AtomicInteger();
            putter.start();
            if (async) {
                Runnable[] post = new Runnable[1];
                post[0] = () -> {
                    if (posted.incrementAndGet() > count) return;
                    s.getAsync(T).whenComplete((m, e) -> {
                        if (e != null || m.data().length != size) {
                            System.err.println("recv failed: " + e);
                            System.exit(1);
                        }
                        if (got.incrementAndGet() == count) done.countDown();
                        else post[0].run();
                    });
                };
                for (int i = 0; i < window; i++) post[0].run();
                if (!done.await(120, TimeUnit.SECONDS)) throw new IllegalStateException("async run did not finish");
            } else {
                for (int i = 0; i < count; i++) {
                    Message m = s.get(T);
                    if (m.data().length != size) throw new IllegalStateException("bad size");
                }
            }
            double secs = (System.nanoTime() - t0) / 1e9;
            putter.join();
            if (proc != null) {
                s.put("done".getBytes(), peer).get(60, TimeUnit.SECONDS);
                if (!proc.waitFor(60, TimeUnit.SECONDS) || proc.exitValue() != 0) throw new IllegalStateException("put_bench failed");
            }
            return secs;
        } finally {
            if (proc != null) proc.destroy();
        }
    }
}
