"""mini: a small independent implementation of the net-queue protocol,
written from docs/protocol.md, docs/conformance.md and the wire-protocol
notes only, that is also a conformance adapter (python3 -m mini, or
conformance/selftest/mini_adapter.py). Standard library, plus paho-mqtt
for MQTT and grpcio for gRPC.

It exists to be broken: `--mutant NAME` (or NQ_MINI_MUTANT) switches on
exactly one realistic bug (mutants.py), and `nq-conformance --self-test`
checks that the suite notices each one.
"""
