// Command recv_bench_go is the Go binding's counterpart of bench/recv_bench.c
// (bench/README.md): in one process over TCP on loopback, a client
// goroutine puts COUNT messages of SIZE bytes and the server takes them
//
//	blocking  Get(context.Background()) in a loop (a blocking nq_comm_get);
//	async     Get(ctx) with a cancellable ctx (an nq_comm_get_cq receive
//	          whenever none is queued, completed on the drain goroutine);
//	stream    the Messages(ctx) channel (batches of queued messages).
//
// The clock runs from the first put to the last message received; modes
// are interleaved within each repetition. With -sender c the client is a C
// one whose C thread puts with nq_comm_put and no completion, as
// recv_bench's does, so the Go receive is measured without the cost of the
// Go sender (Put, its future and its completion); the lines then start
// with "go-csend". Prints per mode the median time
// and rate, and its time over the blocking run's (median of paired ratios).
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"
	"sort"
	"time"

	"netqueue.dev/netqueue"
)

var modes = []string{"blocking", "async", "stream"}

func run(mode string, size, count int, sender string) time.Duration {
	s, err := netqueue.New(netqueue.TCP, netqueue.Server, netqueue.WithHost("127.0.0.1"), netqueue.WithPort(0))
	if err != nil {
		log.Fatal(err)
	}
	port, _ := s.Port()
	var c *netqueue.Comm
	var cc cClient
	if sender == "c" {
		cc = newCClient(port)
	} else {
		c, err = netqueue.New(netqueue.TCP, netqueue.Client, netqueue.WithHost("127.0.0.1"), netqueue.WithPort(port))
		if err != nil {
			log.Fatal(err)
		}
		// Handshake outside the clock, as recv_bench does.
		if _, err := c.Put([]byte("hello")); err != nil {
			log.Fatal(err)
		}
	}
	if _, err := s.Get(context.Background()); err != nil {
		log.Fatal(err)
	}
	payload := make([]byte, size)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	start := time.Now()
	finish := func() {}
	if sender == "c" {
		finish = cc.send(size, count)
	} else {
		go func() {
			for i := 0; i < count; i++ {
				if _, err := c.Put(payload); err != nil {
					log.Fatal(err)
				}
			}
		}()
	}
	switch mode {
	case "blocking":
		for i := 0; i < count; i++ {
			if m, err := s.Get(context.Background()); err != nil || len(m.Data) != size {
				log.Fatal(err)
			}
		}
	case "async":
		for i := 0; i < count; i++ {
			if m, err := s.Get(ctx); err != nil || len(m.Data) != size {
				log.Fatal(err)
			}
		}
	case "stream":
		ch := s.Messages(ctx)
		for i := 0; i < count; i++ {
			if m := <-ch; m == nil || len(m.Data) != size {
				log.Fatal("stream ended early")
			}
		}
	}
	d := time.Since(start)
	cancel()
	cctx, ccancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer ccancel()
	if c != nil {
		c.Close(cctx)
	}
	finish()
	s.Close(cctx)
	return d
}

func median(d []time.Duration) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[len(s)/2]
}

func medianF(f []float64) float64 {
	s := append([]float64(nil), f...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func main() {
	reps := flag.Int("reps", 5, "repetitions")
	size := flag.Int("size", 64, "message size")
	count := flag.Int("count", 200000, "messages per run")
	only := flag.String("only", "", "run this mode alone (for profiling)")
	sender := flag.String("sender", "go", "go: a Go client's Put loop; c: a C client's nq_comm_put loop on a C thread, as recv_bench's")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile (pprof) here")
	flag.Parse()
	if *only != "" {
		modes = []string{*only}
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	times := map[string][]time.Duration{}
	for r := 0; r < *reps; r++ {
		for i := range modes {
			mode := modes[(i+r)%len(modes)] // rotate the order
			times[mode] = append(times[mode], run(mode, *size, *count, *sender))
		}
	}
	base := "blocking"
	if *only != "" {
		base = *only
	}
	prefix := "go"
	if *sender == "c" {
		prefix = "go-csend"
	}
	for _, mode := range modes {
		var ratios []float64
		for r := range times[mode] {
			ratios = append(ratios, float64(times[mode][r])/float64(times[base][r]))
		}
		med := median(times[mode])
		fmt.Printf("%s size %d B x %d: %-8s median %.4f s  %.0f msg/s  time/blocking %.2f\n",
			prefix, *size, *count, mode, med.Seconds(), float64(*count)/med.Seconds(), medianF(ratios))
	}
}
