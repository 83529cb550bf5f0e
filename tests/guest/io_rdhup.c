// POLLRDHUP/EPOLLRDHUP on stream sockets (TCP over the loopback and AF_UNIX): reported
// once the peer has shut its writing side or closed, or this side shut its reading side;
// and the edge an edge-triggered epoll (tokio, Go's netpoller) sees when a peer closes
// after the reader drained everything.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static void bits(const char *what, unsigned ev) {
    printf("%s:%s%s%s%s%s\n", what, ev & POLLIN ? " IN" : "", ev & POLLOUT ? " OUT" : "",
           ev & POLLRDHUP ? " RDHUP" : "", ev & POLLHUP ? " HUP" : "",
           ev & POLLERR ? " ERR" : "");
}

static void polled(const char *what, int fd) {
    struct pollfd p = {fd, POLLIN | POLLOUT | POLLRDHUP};
    poll(&p, 1, 0);
    bits(what, p.revents);
}

static void waited(const char *what, int ep) {
    struct epoll_event e[4];
    int n = epoll_wait(ep, e, 4, 0);
    if (n == 0) {
        printf("%s: nothing\n", what);
        return;
    }
    bits(what, e[0].events);
}

// Two connected stream sockets of a family: TCP over 127.0.0.1, or a unix socketpair.
static void pair_of(int family, int sv[2]) {
    if (family == AF_UNIX) {
        socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
        return;
    }
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t n = sizeof a;
    bind(l, (struct sockaddr *)&a, sizeof a);
    listen(l, 1);
    getsockname(l, (struct sockaddr *)&a, &n);
    sv[0] = socket(AF_INET, SOCK_STREAM, 0);
    connect(sv[0], (struct sockaddr *)&a, sizeof a);
    sv[1] = accept(l, NULL, NULL);
    close(l);
}

static void run(int family) {
    const char *f = family == AF_UNIX ? "unix" : "tcp";
    char line[64], buf[64];
    int sv[2];

    // Half close: the peer's SHUT_WR.
    pair_of(family, sv);
    snprintf(line, sizeof line, "%s fresh", f);
    polled(line, sv[1]);
    shutdown(sv[0], SHUT_WR);
    snprintf(line, sizeof line, "%s after the peer's SHUT_WR", f);
    polled(line, sv[1]);
    snprintf(line, sizeof line, "%s the peer itself", f);
    polled(line, sv[0]);
    close(sv[0]);
    close(sv[1]);

    // Own SHUT_RD.
    pair_of(family, sv);
    shutdown(sv[1], SHUT_RD);
    snprintf(line, sizeof line, "%s after its own SHUT_RD", f);
    polled(line, sv[1]);
    close(sv[0]);
    close(sv[1]);

    // Data, then the peer closes before it is read.
    pair_of(family, sv);
    write(sv[0], "abc", 3);
    close(sv[0]);
    usleep(10000);
    snprintf(line, sizeof line, "%s data then close", f);
    polled(line, sv[1]);
    close(sv[1]);

    // Edge-triggered: data reported, drained, then the close is a new edge.
    pair_of(family, sv);
    int ep = epoll_create1(0);
    struct epoll_event e = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.fd = sv[1]};
    epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &e);
    snprintf(line, sizeof line, "%s et fresh", f);
    waited(line, ep);
    snprintf(line, sizeof line, "%s et again", f);
    waited(line, ep);
    write(sv[0], "hello", 5);
    usleep(10000);
    snprintf(line, sizeof line, "%s et data", f);
    waited(line, ep);
    printf("%s read %zd\n", f, read(sv[1], buf, sizeof buf));
    snprintf(line, sizeof line, "%s et drained", f);
    waited(line, ep);
    close(sv[0]);
    usleep(10000);
    snprintf(line, sizeof line, "%s et peer closed", f);
    waited(line, ep);
    printf("%s read at the end %zd\n", f, read(sv[1], buf, sizeof buf));
    close(ep);
    close(sv[1]);
}

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

// A connection the server never accepted, then the listener closes: the client is reset
// (unix_release_sock of the embryo, tcp's RST). And a peer that closes with bytes it has
// not read resets the other end too.
static void resets(int family) {
    const char *f = family == AF_UNIX ? "unix" : "tcp";
    char line[64], buf[16];
    int l, c;
    if (family == AF_UNIX) {
        struct sockaddr_un a = {.sun_family = AF_UNIX};
        snprintf(a.sun_path, sizeof a.sun_path, "/tmp/io_rdhup.%d", getpid());
        unlink(a.sun_path);
        l = socket(AF_UNIX, SOCK_STREAM, 0);
        bind(l, (struct sockaddr *)&a, sizeof a);
        listen(l, 4);
        c = socket(AF_UNIX, SOCK_STREAM, 0);
        printf("%s connect: %s\n", f, err(connect(c, (struct sockaddr *)&a, sizeof a)));
        unlink(a.sun_path);
    } else {
        struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t n = sizeof a;
        l = socket(AF_INET, SOCK_STREAM, 0);
        bind(l, (struct sockaddr *)&a, sizeof a);
        listen(l, 4);
        getsockname(l, (struct sockaddr *)&a, &n);
        c = socket(AF_INET, SOCK_STREAM, 0);
        printf("%s connect: %s\n", f, err(connect(c, (struct sockaddr *)&a, sizeof a)));
    }
    close(l);
    usleep(10000);
    snprintf(line, sizeof line, "%s listener closed", f);
    polled(line, c);
    int e = 0;
    socklen_t el = sizeof e;
    getsockopt(c, SOL_SOCKET, SO_ERROR, &e, &el);
    printf("%s SO_ERROR: %s\n", f, e ? strerrorname_np(e) : "0");
    printf("%s read: %s\n", f, err(read(c, buf, sizeof buf)));
    close(c);

    int sv[2];
    pair_of(family, sv);
    write(sv[0], "unread", 6);
    usleep(10000);
    close(sv[1]);
    usleep(10000);
    snprintf(line, sizeof line, "%s peer closed unread", f);
    polled(line, sv[0]);
    printf("%s read: %s\n", f, err(read(sv[0], buf, sizeof buf)));
    printf("%s read again: %s\n", f, err(read(sv[0], buf, sizeof buf)));
    close(sv[0]);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    run(AF_INET);
    run(AF_UNIX);
    resets(AF_INET);
    resets(AF_UNIX);
    return 0;
}
