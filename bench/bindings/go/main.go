// Command put_bench is the Go binding sender of bench/bindings_bench.py
// (see bench/put_bench.c, the C baseline, for the session): hello, wait for
// "ready", put COUNT messages of SIZE bytes with at most WINDOW futures
// outstanding, wait for every future, get "done", print one JSON line.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"time"

	"netqueue.dev/netqueue"
)

func main() {
	host := flag.String("host", "127.0.0.1", "receiver address")
	port := flag.Int("port", 0, "receiver port")
	size := flag.Int("size", 64, "message size")
	count := flag.Int("count", 1000, "messages")
	window := flag.Int("window", 0, "most puts outstanding (0: count)")
	flag.Parse()
	if *window <= 0 {
		*window = *count
	}
	q, err := netqueue.New(netqueue.TCP, netqueue.Client,
		netqueue.WithHost(*host), netqueue.WithPort(*port), netqueue.WithCodec(netqueue.CodecRaw))
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	payload := make([]byte, *size)
	for i := range payload {
		payload[i] = 'x'
	}
	if _, err := q.Put([]byte(fmt.Sprintf("hello %d %d", *count, *size))); err != nil {
		log.Fatal(err)
	}
	tctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	if _, err := q.Get(tctx); err != nil { // ready
		log.Fatal(err)
	}
	cancel()
	futures := make([]*netqueue.Future, *count)
	t0 := time.Now()
	for i := 0; i < *count; i++ {
		if i >= *window {
			futures[i-*window].Wait(ctx)
		}
		if futures[i], err = q.Put(payload); err != nil {
			log.Fatal(err)
		}
	}
	failed := 0
	for _, f := range futures {
		if f.Wait(ctx) != nil {
			failed++
		}
	}
	tPut := time.Since(t0).Seconds()
	tctx, cancel = context.WithTimeout(ctx, 120*time.Second)
	if _, err := q.Get(tctx); err != nil { // done: all arrived
		log.Fatal(err)
	}
	cancel()
	tAll := time.Since(t0).Seconds()
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	q.Close(cctx)
	cancel()
	out, _ := json.Marshal(map[string]any{"lang": "go", "count": *count, "size": *size, "window": *window,
		"failed": failed, "put_s": tPut, "seconds": tAll, "msgs_per_s": float64(*count) / tAll})
	fmt.Println(string(out))
	if failed > 0 {
		os.Exit(1)
	}
}
