// nq-go-adapter: a net-queue implementation in Go (package nq, standard
// library only) behind the conformance adapter protocol
// (docs/conformance.md, "Writing an adapter"). Written from the docs
// alone; see README.md and DOCS-GAPS.md.
package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"

	"netqueue.invalid/conformance/adapters/go/nq"
)

// Exit statuses the runner understands.
const (
	exitUsage       = 2
	exitTransient   = 75  // start failure worth a retry (port taken)
	exitUnsupported = 127 // transport, role, dialect or option not supported
)

// AdapterProtocol is the adapter protocol version this program speaks.
const AdapterProtocol = "1.0"

type options struct {
	role, transport, dialect, host string
	port                           int
	cert, key, ca, serverName      string
}

func main() { os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr)) }

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("nq-go-adapter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.role, "role", "", "server or client")
	fs.StringVar(&o.transport, "transport", "tcp", "tcp or tls (mqtt, grpc: unsupported)")
	fs.StringVar(&o.dialect, "dialect", "current", "current or legacy")
	fs.StringVar(&o.host, "host", "127.0.0.1", "address to listen on or connect to")
	fs.IntVar(&o.port, "port", 0, "port to listen on or connect to")
	fs.StringVar(&o.cert, "cert", "", "TLS server: PEM certificate chain")
	fs.StringVar(&o.key, "key", "", "TLS server: PEM private key")
	fs.StringVar(&o.ca, "ca", "", "TLS client: PEM CA file to verify the server with (default: system store)")
	fs.StringVar(&o.serverName, "server-name", "", "TLS client: name to verify instead of --host")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		if strings.Contains(err.Error(), "flag provided but not defined") {
			return exitUnsupported
		}
		return exitUsage
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "nq-go-adapter: "+format+"\n", a...)
		return code
	}
	if fs.NArg() > 0 {
		return fail(exitUsage, "unexpected argument %q", fs.Arg(0))
	}
	switch o.transport {
	case "tcp", "tls":
	case "mqtt", "grpc":
		return fail(exitUnsupported, "transport %s is not implemented", o.transport)
	default:
		return fail(exitUnsupported, "unknown transport %q", o.transport)
	}
	cfg := nq.Config{ID: nq.NewID(), Addr: net.JoinHostPort(o.host, strconv.Itoa(o.port))}
	switch o.dialect {
	case "current":
	case "legacy":
		cfg.Dialect = nq.Legacy
	default:
		return fail(exitUnsupported, "unknown dialect %q", o.dialect)
	}
	if o.port < 0 || o.port > 65535 {
		return fail(exitUsage, "bad --port %d", o.port)
	}

	out := newEmitter(stdout)
	cfg.OnPeer = func(event string, peer nq.ID) { out.emit(map[string]any{"event": event, "peer": peer.Hex()}) }
	cfg.Log = func(msg string) { fmt.Fprintf(stderr, "nq-go-adapter: %s\n", msg) }

	var c comm
	port := o.port
	switch o.role {
	case "server":
		if o.transport == "tls" {
			if o.cert == "" || o.key == "" {
				return fail(exitUsage, "a TLS server needs --cert and --key")
			}
			pair, err := tls.LoadX509KeyPair(o.cert, o.key)
			if err != nil {
				return fail(1, "TLS certificate: %v", err)
			}
			cfg.TLS = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
		}
		s, err := nq.Listen(cfg)
		if err != nil {
			if errors.Is(err, syscall.EADDRINUSE) {
				return fail(exitTransient, "listen: %v", err)
			}
			return fail(1, "listen: %v", err)
		}
		port = s.Port()
		c = s
	case "client":
		if o.transport == "tls" {
			tc := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.host}
			if o.serverName != "" {
				tc.ServerName = o.serverName
			}
			if o.ca != "" {
				pem, err := os.ReadFile(o.ca)
				if err != nil {
					return fail(1, "CA file: %v", err)
				}
				pool := x509.NewCertPool()
				if !pool.AppendCertsFromPEM(pem) {
					return fail(1, "CA file %s: no PEM certificate in it", o.ca)
				}
				tc.RootCAs = pool
			}
			cfg.TLS = tc
		}
		c = nq.Dial(cfg)
	default:
		return fail(exitUsage, "--role must be server or client, not %q", o.role)
	}
	out.emit(map[string]any{"event": "ready", "id": cfg.ID.Hex(), "port": port,
		"adapter_protocol": AdapterProtocol})
	serve(stdin, out, c, cfg.ID)
	return 0
}
