// Command hello is the Python net-queue README's client, in Go: it puts the
// str "Hello, Server!" (pickle, the reference's default serializer) to a
// server, prints the reply, and closes. Try it against the reference's
// README server (tests/interop/readme_server.py HOST PORT).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"time"

	"netqueue.dev/netqueue"
)

func main() {
	host := flag.String("host", "127.0.0.1", "server address")
	port := flag.Int("port", 51966, "server port")
	text := flag.String("text", "Hello, Server!", "what to say")
	raw := flag.Bool("raw", false, "send and print raw bytes, not pickle (for non-Python peers)")
	flag.Parse()

	codec := netqueue.CodecPickle
	if *raw {
		codec = netqueue.CodecRaw
	}
	q, err := netqueue.New(netqueue.TCP, netqueue.Client,
		netqueue.WithHost(*host), netqueue.WithPort(*port), netqueue.WithCodec(codec))
	if err != nil {
		log.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	put, err := q.PutValue(*text)
	if err != nil {
		log.Fatal(err)
	}
	if err := put.Wait(ctx); err != nil {
		log.Fatal(err)
	}
	msg, err := q.Get(ctx)
	if err != nil {
		log.Fatal(err)
	}
	reply, err := msg.Value()
	if err != nil {
		log.Fatal(err)
	}
	if err := q.Close(ctx); err != nil {
		log.Fatal(err)
	}
	if b, ok := reply.([]byte); ok { // raw codec
		reply = string(b)
	}
	fmt.Printf("%#v\n", reply)
}
