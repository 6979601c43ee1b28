module netqueue.dev/netqueue/bench/bindings/go-recv

go 1.22

require netqueue.dev/netqueue v0.0.0

replace netqueue.dev/netqueue => ../../../bindings/go
