module netqueue.invalid/conformance/adapters/go

go 1.22
