// TCP and UDP over the loopback interface, in one process (a connect completes into the
// listener's backlog before accept, so no second process is needed), printing only what
// is the same on every Linux: results, errno names, poll bits, address families, and
// whether addresses agree (ephemeral port numbers differ between runs and machines).
// Compared against the qemu chroot reference; friscy runs it without --net, on the
// guest's own loopback.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *err(int r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static struct sockaddr_in v4(const char *ip, int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static int port_of(int s) {
    struct sockaddr_storage a;
    socklen_t n = sizeof a;
    if (getsockname(s, (struct sockaddr *)&a, &n)) return -1;
    if (a.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&a)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
}

static void show_addr(const char *what, struct sockaddr_storage *a) {
    char ip[64] = "?";
    if (a->ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)a)->sin_addr, ip, sizeof ip);
    else if (a->ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)a)->sin6_addr, ip, sizeof ip);
    printf("%s: family %s ip %s\n", what, a->ss_family == AF_INET6 ? "inet6" : "inet", ip);
}

static void show_poll(const char *what, int fd, short events) {
    struct pollfd p = {.fd = fd, .events = events};
    int n = poll(&p, 1, 0);
    printf("%s: poll %d%s%s%s%s\n", what, n, p.revents & POLLIN ? " IN" : "",
           p.revents & POLLOUT ? " OUT" : "", p.revents & POLLERR ? " ERR" : "",
           p.revents & POLLHUP ? " HUP" : "");
}

// A listener on 127.0.0.1 with an ephemeral port, a client connected to it, the accepted end.
static int pair4(int *l, int *c, int *a) {
    *l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in any = v4("127.0.0.1", 0);
    if (bind(*l, (struct sockaddr *)&any, sizeof any) || listen(*l, 8)) return -1;
    *c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = v4("127.0.0.1", port_of(*l));
    if (connect(*c, (struct sockaddr *)&to, sizeof to)) return -1;
    *a = accept(*l, NULL, NULL);
    return *a < 0 ? -1 : 0;
}

static void tcp_basics(void) {
    int l, c, a;
    printf("pair: %s\n", err(pair4(&l, &c, &a)));
    int lp = port_of(l), cp = port_of(c);
    printf("client port ephemeral: %d\n", cp >= 32768 && cp <= 60999);
    struct sockaddr_storage peer;
    socklen_t n = sizeof peer;
    getpeername(a, (struct sockaddr *)&peer, &n);
    show_addr("accepted peer", &peer);
    printf("peer port is the client's: %d\n", ntohs(((struct sockaddr_in *)&peer)->sin_port) == cp);
    printf("accepted local port is the listener's: %d\n", port_of(a) == lp);
    show_poll("idle accepted", a, POLLIN | POLLOUT);
    printf("send: %zd\n", send(c, "hello, loopback", 15, 0));
    show_poll("accepted with data", a, POLLIN | POLLOUT);
    char buf[64];
    printf("peek: %zd\n", recv(a, buf, 5, MSG_PEEK));
    ssize_t r = recv(a, buf, sizeof buf, 0);
    printf("recv: %zd %.*s\n", r, (int)r, buf);
    printf("shutdown wr: %s\n", err(shutdown(c, SHUT_WR)));
    printf("eof after shutdown: %zd\n", recv(a, buf, sizeof buf, 0));
    printf("send after shutdown: %s\n", err((int)send(c, "x", 1, MSG_NOSIGNAL)));
    printf("reply: %zd\n", send(a, "back", 4, 0));
    r = recv(c, buf, sizeof buf, 0);
    printf("client recv: %zd %.*s\n", r, (int)r, buf);
    close(a);
    printf("eof after close: %zd\n", recv(c, buf, sizeof buf, 0));
    close(c);

    // The peer closes: end of file, then the first write is taken and the next is EPIPE.
    pair4(&l, &c, &a);
    close(a);
    printf("read after peer close: %zd\n", read(c, buf, sizeof buf));
    show_poll("after peer close", c, POLLIN | POLLOUT);
    printf("first write: %s\n", err((int)write(c, "a", 1)));
    printf("second write: %s\n", err((int)write(c, "b", 1)));
    close(c);

    // Closing with unread bytes resets the connection.
    pair4(&l, &c, &a);
    send(c, "unread", 6, 0);
    close(a);
    printf("read after reset: %s\n", err((int)read(c, buf, sizeof buf)));
    printf("read again: %zd\n", read(c, buf, sizeof buf));
    close(c);

    // SO_LINGER on with a time of 0: close resets the connection (an abortive close).
    pair4(&l, &c, &a);
    struct linger lg = {.l_onoff = 5, .l_linger = 0}, back;
    printf("SO_LINGER short: %s\n", err(setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, 4)));
    printf("SO_LINGER: %s\n", err(setsockopt(a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg)));
    socklen_t bl = sizeof back;
    getsockopt(a, SOL_SOCKET, SO_LINGER, &back, &bl);
    printf("SO_LINGER read back: %d %d (%d bytes)\n", back.l_onoff, back.l_linger, (int)bl);
    send(a, "sent before", 11, 0);
    close(a);
    show_poll("after abortive close", c, POLLIN | POLLOUT);
    r = read(c, buf, sizeof buf);
    printf("read what came first: %zd %.*s\n", r, r > 0 ? (int)r : 0, buf);
    printf("read after abort: %s\n", err((int)read(c, buf, sizeof buf)));
    printf("read again: %zd\n", read(c, buf, sizeof buf));
    printf("write after abort: %s\n", err((int)send(c, "x", 1, MSG_NOSIGNAL)));
    close(c);

    // Nothing to accept on a non-blocking listener.
    fcntl(l, F_SETFL, O_NONBLOCK);
    printf("accept empty: %s\n", err(accept(l, NULL, NULL)));
    show_poll("empty listener", l, POLLIN);
    close(l);
}

static void tcp_errors(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_storage a;
    socklen_t n = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &n);
    show_addr("unbound name", &a);
    printf("unbound port: %d\n", port_of(s));
    show_poll("fresh socket", s, POLLIN | POLLOUT);
    char buf[8];
    printf("read unconnected: %s\n", err((int)read(s, buf, sizeof buf)));
    printf("write unconnected: %s\n", err((int)write(s, "x", 1)));
    n = sizeof a;
    printf("getpeername unconnected: %s\n", err(getpeername(s, (struct sockaddr *)&a, &n)));

    // A port nobody listens on (bound and closed again just now).
    int t = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in lo = v4("127.0.0.1", 0);
    bind(t, (struct sockaddr *)&lo, sizeof lo);
    int port = port_of(t);
    close(t);
    struct sockaddr_in to = v4("127.0.0.1", port);
    printf("connect refused: %s\n", err(connect(s, (struct sockaddr *)&to, sizeof to)));
    close(s);

    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    printf("nonblocking connect: %s\n", err(connect(s, (struct sockaddr *)&to, sizeof to)));
    struct pollfd p = {.fd = s, .events = POLLOUT};
    poll(&p, 1, 1000);
    printf("nonblocking result: out %d err %d\n", !!(p.revents & POLLOUT), !!(p.revents & POLLERR));
    int e = 0;
    socklen_t el = sizeof e;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el);
    printf("SO_ERROR: %s\n", e == ECONNREFUSED ? "ECONNREFUSED" : strerror(e));
    close(s);

    // A non-blocking connect that succeeds, then connect again.
    int l = socket(AF_INET, SOCK_STREAM, 0);
    bind(l, (struct sockaddr *)&lo, sizeof lo);
    listen(l, 4);
    to = v4("127.0.0.1", port_of(l));
    s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    printf("nonblocking connect: %s\n", err(connect(s, (struct sockaddr *)&to, sizeof to)));
    p = (struct pollfd){.fd = s, .events = POLLOUT};
    poll(&p, 1, 1000);
    el = sizeof e;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el);
    printf("established: out %d SO_ERROR %d\n", !!(p.revents & POLLOUT), e);
    printf("connect again: %s\n", err(connect(s, (struct sockaddr *)&to, sizeof to)));
    close(s);

    // Ports in use.
    int b = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in same = v4("127.0.0.1", port_of(l));
    printf("bind taken port: %s\n", err(bind(b, (struct sockaddr *)&same, sizeof same)));
    struct sockaddr_in6 any6 = {.sin6_family = AF_INET6, .sin6_port = htons(port_of(l))};
    int b6 = socket(AF_INET6, SOCK_STREAM, 0);
    printf("bind [::] over 127.0.0.1: %s\n", err(bind(b6, (struct sockaddr *)&any6, sizeof any6)));
    struct sockaddr_in far = v4("192.0.2.1", 0);
    printf("bind foreign address: %s\n", err(bind(b, (struct sockaddr *)&far, sizeof far)));
    printf("bind AF_INET6 address on AF_INET: %s\n",
           err(bind(b, (struct sockaddr *)&any6, sizeof any6)));
    printf("listen: %s\n", err(listen(b, 1)));
    printf("listen port ephemeral: %d\n", port_of(b) >= 32768);
    printf("connect on listener: %s\n", err(connect(b, (struct sockaddr *)&to, sizeof to)));
    close(b);
    close(b6);

    // SO_REUSEADDR on both: a second bind while neither listens.
    int r1 = socket(AF_INET, SOCK_STREAM, 0), r2 = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(r1, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    setsockopt(r2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    bind(r1, (struct sockaddr *)&lo, sizeof lo);
    struct sockaddr_in r1a = v4("127.0.0.1", port_of(r1));
    printf("reuse bind: %s\n", err(bind(r2, (struct sockaddr *)&r1a, sizeof r1a)));
    printf("listen first: %s\n", err(listen(r1, 1)));
    printf("listen second: %s\n", err(listen(r2, 1)));
    close(r1);
    close(r2);
    close(l);
}

static void dual_stack(void) {
    int l = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 any6 = {.sin6_family = AF_INET6};
    printf("bind [::]: %s\n", err(bind(l, (struct sockaddr *)&any6, sizeof any6)));
    listen(l, 4);
    int port = port_of(l);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in to = v4("127.0.0.1", port);
    printf("v4 to [::]: %s\n", err(connect(c, (struct sockaddr *)&to, sizeof to)));
    struct sockaddr_storage peer;
    socklen_t n = sizeof peer;
    int a = accept(l, (struct sockaddr *)&peer, &n);
    show_addr("v4 client seen by v6", &peer);
    close(a);
    close(c);
    c = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 to6 = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    inet_pton(AF_INET6, "::1", &to6.sin6_addr);
    printf("v6 to [::]: %s\n", err(connect(c, (struct sockaddr *)&to6, sizeof to6)));
    n = sizeof peer;
    a = accept(l, (struct sockaddr *)&peer, &n);
    show_addr("v6 client", &peer);
    n = sizeof peer;
    getsockname(c, (struct sockaddr *)&peer, &n);
    show_addr("v6 client name", &peer);
    printf("v4 socket to v6 address: %s\n", err(connect(socket(AF_INET, SOCK_STREAM, 0),
                                                        (struct sockaddr *)&to6, sizeof to6)));
    close(a);
    close(c);
    close(l);
}

static void udp(void) {
    int r = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in lo = v4("127.0.0.1", 0);
    bind(r, (struct sockaddr *)&lo, sizeof lo);
    struct sockaddr_in to = v4("127.0.0.1", port_of(r));
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    printf("send unconnected without address: %s\n", err((int)send(s, "x", 1, 0)));
    printf("sendto: %zd\n", sendto(s, "datagram one", 12, 0, (struct sockaddr *)&to, sizeof to));
    printf("sendto: %zd\n", sendto(s, "two", 3, 0, (struct sockaddr *)&to, sizeof to));
    printf("sender bound: %d\n", port_of(s) > 0);
    show_poll("receiver", r, POLLIN | POLLOUT);
    char buf[64];
    struct sockaddr_storage from;
    socklen_t n = sizeof from;
    ssize_t got = recvfrom(r, buf, 8, 0, (struct sockaddr *)&from, &n);
    printf("recvfrom (cut to 8): %zd %.*s\n", got, (int)got, buf);
    show_addr("from", &from);
    printf("from port is the sender's: %d\n", ntohs(((struct sockaddr_in *)&from)->sin_port) == port_of(s));
    got = recv(r, buf, sizeof buf, MSG_TRUNC);
    printf("recv MSG_TRUNC: %zd\n", got);
    fcntl(r, F_SETFL, O_NONBLOCK);
    printf("recv empty: %s\n", err((int)recv(r, buf, sizeof buf, 0)));
    printf("empty datagram: %zd\n", sendto(s, "", 0, 0, (struct sockaddr *)&to, sizeof to));
    printf("recv empty datagram: %zd\n", recv(r, buf, sizeof buf, 0));

    // Connected to a port nobody has: the send goes, the next call hears ECONNREFUSED.
    int t = socket(AF_INET, SOCK_DGRAM, 0);
    bind(t, (struct sockaddr *)&lo, sizeof lo);
    struct sockaddr_in dead = v4("127.0.0.1", port_of(t));
    close(t);
    int c = socket(AF_INET, SOCK_DGRAM, 0);
    printf("connect udp: %s\n", err(connect(c, (struct sockaddr *)&dead, sizeof dead)));
    printf("send to nobody: %s\n", err((int)send(c, "?", 1, 0)));
    usleep(10000);
    printf("then: %s\n", err((int)recv(c, buf, sizeof buf, MSG_DONTWAIT)));
    printf("and then: %s\n", err((int)recv(c, buf, sizeof buf, MSG_DONTWAIT)));
    close(c);

    // A connected receiver only takes datagrams from its peer.
    int q = socket(AF_INET, SOCK_DGRAM, 0);
    bind(q, (struct sockaddr *)&lo, sizeof lo);
    struct sockaddr_in qa = v4("127.0.0.1", port_of(q));
    int friend = socket(AF_INET, SOCK_DGRAM, 0), stranger = socket(AF_INET, SOCK_DGRAM, 0);
    bind(friend, (struct sockaddr *)&lo, sizeof lo);
    struct sockaddr_in fa = v4("127.0.0.1", port_of(friend));
    connect(q, (struct sockaddr *)&fa, sizeof fa);
    sendto(stranger, "stranger", 8, 0, (struct sockaddr *)&qa, sizeof qa);
    sendto(friend, "friend", 6, 0, (struct sockaddr *)&qa, sizeof qa);
    got = recv(q, buf, sizeof buf, MSG_DONTWAIT);
    printf("connected receiver got: %.*s\n", got > 0 ? (int)got : 0, buf);
    printf("nothing else: %s\n", err((int)recv(q, buf, sizeof buf, MSG_DONTWAIT)));
    close(q);
    close(friend);
    close(stranger);
    close(r);
    close(s);
}

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    setvbuf(stdout, NULL, _IONBF, 0);
    tcp_basics();
    tcp_errors();
    dual_stack();
    udp();
    return 0;
}
