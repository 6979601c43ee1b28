/* TCP_NODELAY on paho's broker connections.
 *
 * paho.mqtt.c 1.3 never sets it and has no option or hook for its socket.
 * Without it every QoS 1/2 exchange meets Nagle: paho writes a PUBACK, our
 * next publish follows within a millisecond, and the kernel holds that
 * publish until the broker acknowledges the PUBACK, which it delays by
 * ~40 ms. A 64 B QoS 1 ping-pong took 88 ms (strace: each publish left
 * ~43 ms after its writev), against under a millisecond at QoS 0.
 *
 * So after each successful connect we find the socket ourselves: every
 * TCP socket of this process whose peer is the broker's address and port
 * gets TCP_NODELAY. That may include another connection of this process to
 * the same broker (another communicator's, or the application's own); for
 * those it only means that small writes are not held back, which costs a
 * few more packets and never correctness (docs/mqtt.md). */
#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "mqtt/mqtt_internal.h"

static int same_peer(const struct sockaddr_storage *a, const struct addrinfo *list)
{
    for (const struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        if (ai->ai_family != a->ss_family)
            continue;
        if (a->ss_family == AF_INET) {
            const struct sockaddr_in *x = (const void *)a, *y = (const void *)ai->ai_addr;
            if (x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr)
                return 1;
        } else if (a->ss_family == AF_INET6) {
            const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)ai->ai_addr;
            if (x->sin6_port == y->sin6_port &&
                memcmp(&x->sin6_addr, &y->sin6_addr, sizeof x->sin6_addr) == 0)
                return 1;
        }
    }
    return 0;
}

int mqtt_nodelay(const char *host, int port)
{
    struct addrinfo hints, *list = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_socktype = SOCK_STREAM;
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    if (getaddrinfo(host, service, &hints, &list) != 0)
        return 0;
    DIR *d = opendir("/proc/self/fd");
    int set = 0;
    if (d) {
        struct dirent *e;
        while ((e = readdir(d))) {
            char *end;
            long fd = strtol(e->d_name, &end, 10);
            if (*end || end == e->d_name || fd == dirfd(d))
                continue;
            struct stat st;
            int proto = 0, on = 0;
            socklen_t len = sizeof proto;
            if (fstat((int)fd, &st) != 0 || !S_ISSOCK(st.st_mode) ||
                getsockopt((int)fd, SOL_SOCKET, SO_PROTOCOL, &proto, &len) != 0 ||
                proto != IPPROTO_TCP)
                continue;
            struct sockaddr_storage peer;
            socklen_t plen = sizeof peer;
            if (getpeername((int)fd, (struct sockaddr *)&peer, &plen) != 0 ||
                !same_peer(&peer, list))
                continue;
            len = sizeof on;
            if (getsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &on, &len) == 0 && on)
                continue;
            on = 1;
            if (setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on) == 0)
                set++;
        }
        closedir(d);
    }
    freeaddrinfo(list);
    return set;
}
