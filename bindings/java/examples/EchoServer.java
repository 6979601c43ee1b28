// A Java server for the cross-language test and the demo: answers each of
// COUNT pickled strings with "Hello, Client!" (pickled), prints what it
// got, then closes. Prints "listening on PORT" first (it binds port 0).
//   java -cp ... bindings/java/examples/EchoServer.java COUNT
import java.time.Duration;
import org.netqueue.Communicator;
import org.netqueue.CommunicatorOptions;
import org.netqueue.Message;

public class EchoServer {
    public static void main(String[] args) {
        int count = args.length > 0 ? Integer.parseInt(args[0]) : 1;
        try (Communicator queue = Communicator.server(new CommunicatorOptions().port(0))) {
            System.out.println("listening on " + queue.port());
            System.out.flush();
            for (int i = 0; i < count; i++) {
                Message m = queue.get(Duration.ofSeconds(60));
                System.out.println("java server got " + m.pickledString() + " from " + m.peer());
                queue.putPickled("Hello, Client!", m.peer()).join();
            }
        }
    }
}
