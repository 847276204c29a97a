/* The physical-limit reference for the benchmark suite: a single-threaded epoll echo server.
 *
 * Build: gcc -O2 -Wall -o c_epoll_echo bench/c/epoll_echo.c   (bench/run.sh does this)
 * Run:   c_epoll_echo [--addr HOST:PORT]     (default 127.0.0.1:9999; port 0 picks one)
 *
 * One thread, level-triggered epoll, non-blocking sockets, TCP only. Every byte read is sent
 * back; on a partial write the unsent tail is kept and the connection waits for EPOLLOUT
 * (reading nothing more meanwhile); on EOF it closes once everything is sent. Accepted
 * sockets get TCP_NODELAY, as std_echo's, tokio_echo's and ours do. Once listening it prints
 * exactly one line to stdout, `listening on ADDR` (the real port), and flushes; SIGINT or
 * SIGTERM: exit 0 at once. A bad address: one stderr line, exit 1; bad usage: exit 2. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct conn { int fd; char *tail; size_t len; }; /* tail: bytes sent back not yet taken */

static void on_signal(int sig) { (void)sig; _exit(0); }

static void drop_conn(int ep, struct conn *c) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd); free(c->tail); free(c);
}

/* Sends buf[0..n) and keeps what the socket did not take: while a tail is kept the
 * connection waits for EPOLLOUT only (no reading), then for EPOLLIN again. Returns -1 when
 * the peer is gone. */
static int send_or_keep(int ep, struct conn *c, const char *buf, size_t n) {
    ssize_t sent = send(c->fd, buf, n, MSG_NOSIGNAL);
    if (sent < 0 && errno != EAGAIN && errno != EINTR) return -1;
    size_t done = sent < 0 ? 0 : (size_t)sent;
    char *rest = n > done ? malloc(n - done) : NULL, *had = c->tail;
    if (n > done) { if (!rest) return -1; memcpy(rest, buf + done, n - done); }
    c->tail = rest; c->len = n - done; free(had);
    if (!had == !rest) return 0; /* same interest as before: no epoll_ctl */
    struct epoll_event ev = { .events = rest ? EPOLLOUT : EPOLLIN, .data.ptr = c };
    return epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
}

int main(int argc, char **argv) {
    char addr[300] = "127.0.0.1:9999";
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--addr") && i + 1 < argc && strlen(argv[i + 1]) < sizeof addr)
            strcpy(addr, argv[++i]);
        else { fprintf(stderr, "c_epoll_echo: usage: c_epoll_echo [--addr HOST:PORT]\n"); return 2; }
    }
    char *colon = strrchr(addr, ':'), *host = addr;
    if (!colon) { fprintf(stderr, "c_epoll_echo: --addr needs HOST:PORT, not %s\n", addr); return 2; }
    *colon = '\0';
    if (*host == '[' && colon[-1] == ']') { host++; colon[-1] = '\0'; }
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
    int one = 1, lfd = -1, rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc) { fprintf(stderr, "c_epoll_echo: cannot resolve %s: %s\n", host, gai_strerror(rc)); return 1; }
    lfd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(lfd, ai->ai_addr, ai->ai_addrlen) < 0 || listen(lfd, SOMAXCONN) < 0) {
        fprintf(stderr, "c_epoll_echo: cannot listen on %s:%s: %s\n", host, colon + 1, strerror(errno));
        return 1;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss; socklen_t sl = sizeof ss; char ip[INET6_ADDRSTRLEN];
    getsockname(lfd, (struct sockaddr *)&ss, &sl);
    struct sockaddr_in *v4 = (struct sockaddr_in *)&ss; struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&ss;
    int v6addr = ss.ss_family == AF_INET6;
    inet_ntop(ss.ss_family, v6addr ? (void *)&v6->sin6_addr : (void *)&v4->sin_addr, ip, sizeof ip);
    signal(SIGPIPE, SIG_IGN); signal(SIGTERM, on_signal); signal(SIGINT, on_signal);
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL }, evs[256];
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) < 0) { perror("c_epoll_echo: epoll"); return 1; }
    printf(v6addr ? "listening on [%s]:%d\n" : "listening on %s:%d\n", ip,
           ntohs(v6addr ? v6->sin6_port : v4->sin_port));
    if (fflush(stdout) != 0) return 1;
    static char buf[16384];
    for (;;) {
        int n = epoll_wait(ep, evs, 256, -1);
        for (int i = 0; i < n; i++) {
            struct conn *c = evs[i].data.ptr;
            if (!c) { /* the listener: accept everything that is waiting */
                int fd;
                while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
                    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
                    struct conn *nc = calloc(1, sizeof *nc);
                    struct epoll_event cev = { .events = EPOLLIN, .data.ptr = nc };
                    if (!nc || (nc->fd = fd, epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev) < 0)) { close(fd); free(nc); }
                }
                if (errno == EMFILE || errno == ENFILE || errno == ENOMEM) usleep(10000); /* back off */
            } else if (c->tail) { /* writable (or an error) with a tail to send */
                if (send_or_keep(ep, c, c->tail, c->len) < 0) drop_conn(ep, c);
            } else { /* readable; EOF is only read once every tail is sent, so close at once */
                ssize_t got = recv(c->fd, buf, sizeof buf, 0);
                if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) drop_conn(ep, c);
                else if (got > 0 && send_or_keep(ep, c, buf, (size_t)got) < 0) drop_conn(ep, c);
            }
        }
    }
}
