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

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    run(AF_INET);
    run(AF_UNIX);
    return 0;
}
