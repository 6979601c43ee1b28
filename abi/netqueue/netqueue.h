/**
 * @file
 * netqueue — the net-queue protocol in C.
 *
 * Umbrella header: include this one. See docs/abi.md for the concepts
 * (handles, statuses, futures, streams, threads) and docs/protocol.md for
 * what goes on the wire.
 */
#ifndef NETQUEUE_H
#define NETQUEUE_H

#include "common.h"
#include "version.h"
#include "options.h"
#include "stream.h"
#include "future.h"
#include "value.h"
#include "comm.h"
#include "receive.h"
#include "mqtt.h"
#include "stats.h"

#endif
