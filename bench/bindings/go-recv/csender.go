package main

/*
#cgo pkg-config: netqueue
#include <pthread.h>
#include <stdlib.h>
#include <netqueue/netqueue.h>

// recv_bench.c's client and sender, for -sender c: a C client whose C
// thread puts count messages with nq_comm_put and no completion, so that
// the Go server's receive is measured against the same load as C's.
typedef struct { nq_comm *c; size_t size; long count; pthread_t t; } csender;

static nq_comm *csender_client(int port)
{
	nq_options *o;
	nq_comm *c = NULL;
	if (nq_options_new(&o) != NQ_OK)
		return NULL;
	nq_options_set_host(o, "127.0.0.1");
	nq_options_set_port(o, port);
	if (nq_comm_new(&c, NQ_TCP, NQ_CLIENT, o) != NQ_OK)
		c = NULL;
	nq_options_free(o);
	return c;
}

static nq_status csender_hello(nq_comm *c)
{
	return nq_comm_put(c, "hi", 2, NULL, 0, NULL, NULL);
}

static void *csender_run(void *arg)
{
	csender *s = arg;
	unsigned char *buf = calloc(1, s->size ? s->size : 1);
	for (long i = 0; i < s->count; i++)
		if (nq_comm_put(s->c, buf, s->size, NULL, 0, NULL, NULL) != NQ_OK)
			abort();
	free(buf);
	return NULL;
}

static csender *csender_start(nq_comm *c, size_t size, long count)
{
	csender *s = malloc(sizeof *s);
	s->c = c;
	s->size = size;
	s->count = count;
	pthread_create(&s->t, NULL, csender_run, s);
	return s;
}

static void csender_finish(csender *s)
{
	pthread_join(s->t, NULL);
	nq_comm_close(s->c, 20000);
	nq_comm_free(s->c);
	free(s);
}
*/
import "C"

import "log"

// cClient is a C client connected to port, handshake done by hello.
type cClient struct{ c *C.nq_comm }

func newCClient(port int) cClient {
	c := C.csender_client(C.int(port))
	if c == nil {
		log.Fatal("C client: nq_comm_new failed")
	}
	if st := C.csender_hello(c); st != C.NQ_OK {
		log.Fatalf("C client: put %d", int(st))
	}
	return cClient{c}
}

// send starts the C sender thread; the returned func joins it and closes.
func (cc cClient) send(size, count int) func() {
	s := C.csender_start(cc.c, C.size_t(size), C.long(count))
	return func() { C.csender_finish(s) }
}
