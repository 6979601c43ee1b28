"""nq-conformance: the net-queue protocol conformance suite (docs/conformance.md).

Standard library only, except the MQTT and gRPC scripted peers, which
import paho-mqtt and grpcio when those transports are run.
"""
