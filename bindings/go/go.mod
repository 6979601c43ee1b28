module netqueue.dev/netqueue

go 1.22
