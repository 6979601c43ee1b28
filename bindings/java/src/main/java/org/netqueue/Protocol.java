package org.netqueue;

/** Transport; MQTT and GRPC fail with EUNSUPPORTED until the library has them. */
public enum Protocol { TCP, MQTT, GRPC }
