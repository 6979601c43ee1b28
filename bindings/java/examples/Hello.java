// Say hello to a net-queue server (the Python reference's README server, or
// any other that speaks pickle, the reference's default codec) and print the
// answer. Run as a single-file program against the built binding (or the
// jar: -cp netqueue-1.3.0.jar):
//   java -cp bindings/java/target/classes bindings/java/examples/Hello.java PORT [HOST]
import java.time.Duration;
import org.netqueue.Communicator;
import org.netqueue.CommunicatorOptions;

public class Hello {
    public static void main(String[] args) {
        int port = args.length > 0 ? Integer.parseInt(args[0]) : 51966;
        String host = args.length > 1 ? args[1] : "127.0.0.1";
        try (Communicator queue = Communicator.client(new CommunicatorOptions().host(host).port(port))) {
            queue.putPickled("Hello, Server!").join();
            System.out.println(queue.get(Duration.ofSeconds(30)).pickledString());
        }
    }
}
