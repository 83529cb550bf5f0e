// IP sockets from a static glibc guest, for the end-to-end tests under `wasmtime run -S
// inherit-network` (the default image has no shell or busybox). Every line it prints is
// deterministic so tests can compare exactly.
//
//   net echo HOST PORT TEXT     TCP: connect (non-blocking, then poll for writability),
//                               send TEXT, shut down writing, print what comes back
//   net udp HOST PORT TEXT      UDP: sendto, then recvfrom with a 5 s poll
//   net serve PORT              TCP: listen on 127.0.0.1:PORT, print "listening", accept
//                               one client, answer its bytes upper-cased, close
//   net refused HOST PORT       TCP: a blocking connect that must fail
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int die(const char *what) {
    printf("%s: %s\n", what, strerror(errno));
    return 1;
}

static struct sockaddr_in addr(const char *host, const char *port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(atoi(port))};
    inet_pton(AF_INET, host, &a.sin_addr);
    return a;
}

static int echo(const char *host, const char *port, const char *text) {
    int s = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (s < 0) return die("socket");
    int one = 1;
    if (setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one)) return die("setsockopt");
    struct sockaddr_in a = addr(host, port);
    // Loopback may connect at once or report EINPROGRESS: both end connected.
    if (connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        if (errno != EINPROGRESS) return die("connect");
        struct pollfd p = {.fd = s, .events = POLLOUT};
        if (poll(&p, 1, 5000) != 1) return die("poll");
    }
    int err = -1;
    socklen_t len = sizeof err;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len);
    printf("connected, SO_ERROR %d\n", err);
    struct sockaddr_in peer;
    socklen_t plen = sizeof peer;
    getpeername(s, (struct sockaddr *)&peer, &plen);
    printf("peer port matches: %d\n", ntohs(peer.sin_port) == atoi(port));
    fcntl(s, F_SETFL, 0); // blocking from here on
    size_t n = strlen(text);
    if (send(s, text, n, 0) != (ssize_t)n) return die("send");
    shutdown(s, SHUT_WR);
    char buf[4096];
    size_t got = 0;
    ssize_t r;
    while ((r = recv(s, buf + got, sizeof buf - 1 - got, 0)) > 0) got += r;
    if (r < 0) return die("recv");
    buf[got] = 0;
    printf("reply: %s\n", buf);
    close(s);
    return 0;
}

static int udp(const char *host, const char *port, const char *text) {
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    if (s < 0) return die("socket");
    struct sockaddr_in a = addr(host, port);
    if (sendto(s, text, strlen(text), 0, (struct sockaddr *)&a, sizeof a) < 0)
        return die("sendto");
    struct pollfd p = {.fd = s, .events = POLLIN};
    if (poll(&p, 1, 5000) != 1) return die("poll");
    char buf[2048];
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    ssize_t r = recvfrom(s, buf, sizeof buf - 1, 0, (struct sockaddr *)&from, &flen);
    if (r < 0) return die("recvfrom");
    buf[r] = 0;
    printf("datagram from the server's port: %d: %s\n", ntohs(from.sin_port) == atoi(port), buf);
    return 0;
}

static int serve(const char *port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return die("socket");
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = addr("127.0.0.1", port);
    if (bind(s, (struct sockaddr *)&a, sizeof a)) return die("bind");
    if (listen(s, 4)) return die("listen");
    printf("listening\n");
    fflush(stdout);
    int c = accept(s, NULL, NULL);
    if (c < 0) return die("accept");
    char buf[4096];
    ssize_t r;
    while ((r = read(c, buf, sizeof buf)) > 0) {
        for (ssize_t i = 0; i < r; i++) buf[i] = toupper((unsigned char)buf[i]);
        if (write(c, buf, r) != r) return die("write");
    }
    close(c);
    printf("served\n");
    return 0;
}

static int refused(const char *host, const char *port) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) return die("socket");
    struct sockaddr_in a = addr(host, port);
    if (connect(s, (struct sockaddr *)&a, sizeof a) == 0) {
        printf("connected?\n");
        return 1;
    }
    return die("connect");
}

int main(int argc, char **argv) {
    if (argc == 5 && !strcmp(argv[1], "echo")) return echo(argv[2], argv[3], argv[4]);
    if (argc == 5 && !strcmp(argv[1], "udp")) return udp(argv[2], argv[3], argv[4]);
    if (argc == 3 && !strcmp(argv[1], "serve")) return serve(argv[2]);
    if (argc == 4 && !strcmp(argv[1], "refused")) return refused(argv[2], argv[3]);
    fprintf(stderr, "usage: net echo|udp HOST PORT TEXT | net serve PORT | net refused HOST PORT\n");
    return 2;
}
