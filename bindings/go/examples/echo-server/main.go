// Command echo-server is a netqueue server that puts every message back to
// its sender. It says "listening on HOST:PORT" on stderr once ready, and
// with -count N closes after N messages. Used by the cross-language tests.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"

	"netqueue.dev/netqueue"
)

func main() {
	host := flag.String("host", "127.0.0.1", "address to bind")
	port := flag.Int("port", 0, "port (0: a free one)")
	count := flag.Int("count", 0, "close after this many messages (0: never)")
	flag.Parse()

	s, err := netqueue.New(netqueue.TCP, netqueue.Server, netqueue.WithHost(*host), netqueue.WithPort(*port))
	if err != nil {
		log.Fatal(err)
	}
	p, _ := s.Port()
	fmt.Fprintf(os.Stderr, "echo-server: listening on %s:%d\n", *host, p)
	ctx := context.Background()
	for n := 0; *count == 0 || n < *count; n++ {
		msg, err := s.Get(ctx)
		if err != nil {
			log.Fatal(err)
		}
		fmt.Printf("%s %d %q\n", msg.Peer, len(msg.Data), msg.Data)
		f, err := s.Put(msg.Data, msg.Peer)
		if err != nil {
			log.Fatal(err)
		}
		if err := f.Wait(ctx); err != nil {
			log.Fatal(err)
		}
	}
	if err := s.Close(ctx); err != nil {
		log.Fatal(err)
	}
}
