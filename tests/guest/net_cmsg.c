// Ancillary data of UDP sockets over the loopback interface: what recvmsg reports
// (IP_PKTINFO, IP_TTL, IP_TOS, IP_ORIGDSTADDR, SO_TIMESTAMP/SO_TIMESTAMPNS and their IPv6
// counterparts), what sendmsg takes (IP_PKTINFO's source address, IP_TTL, IP_TOS,
// IPV6_HOPLIMIT, IPV6_TCLASS; unknown levels skipped, unknown IP types EINVAL), and the
// error queue: IP_RECVERR's port-unreachable report read with MSG_ERRQUEUE, which never
// blocks. Prints only what is the same on every Linux (ports and times differ).
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <linux/errqueue.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static const char *err(int r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static int on = 1;

static struct sockaddr_in v4(const char *ip, int port) {
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

static struct sockaddr_in6 v6(const char *ip, int port) {
    struct sockaddr_in6 a = {.sin6_family = AF_INET6, .sin6_port = htons(port)};
    inet_pton(AF_INET6, ip, &a.sin6_addr);
    return a;
}

static int port_of(int s) {
    struct sockaddr_storage a;
    socklen_t n = sizeof a;
    getsockname(s, (struct sockaddr *)&a, &n);
    if (a.ss_family == AF_INET) return ntohs(((struct sockaddr_in *)&a)->sin_port);
    return ntohs(((struct sockaddr_in6 *)&a)->sin6_port);
}

static const char *ip4(struct in_addr a) {
    static char b[4][32];
    static int i;
    char *s = b[i++ % 4];
    inet_ntop(AF_INET, &a, s, 32);
    return s;
}

static const char *ip6(const struct in6_addr *a) {
    static char b[4][64];
    static int i;
    char *s = b[i++ % 4];
    inet_ntop(AF_INET6, a, s, 64);
    return s;
}

// Receive one datagram with a control buffer of `room` bytes and print the control
// messages, in the order the kernel wrote them.
static void show(const char *what, int s, size_t room, int flags, int local_port) {
    char data[12] = {0}, control[512];
    struct sockaddr_storage from;
    struct iovec iov = {data, sizeof data - 1};
    struct msghdr m = {.msg_name = &from, .msg_namelen = sizeof from, .msg_iov = &iov,
                       .msg_iovlen = 1, .msg_control = control, .msg_controllen = room};
    memset(control, 0xee, sizeof control);
    struct timespec t0;
    clock_gettime(CLOCK_REALTIME, &t0);
    ssize_t n = recvmsg(s, &m, flags);
    printf("%s: recvmsg %s", what, err(n));
    if (n < 0) {
        printf("\n");
        return;
    }
    printf(" %zd \"%s\" flags%s%s%s controllen %zu\n", n, data,
           m.msg_flags & MSG_CTRUNC ? " CTRUNC" : "", m.msg_flags & MSG_TRUNC ? " TRUNC" : "",
           m.msg_flags & MSG_ERRQUEUE ? " ERRQUEUE" : "", (size_t)m.msg_controllen);
    if (from.ss_family == AF_INET)
        printf("  from %s\n", ip4(((struct sockaddr_in *)&from)->sin_addr));
    else if (from.ss_family == AF_INET6)
        printf("  from %s\n", ip6(&((struct sockaddr_in6 *)&from)->sin6_addr));
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
        printf("  cmsg level %d type %d len %zu:", c->cmsg_level, c->cmsg_type,
               (size_t)c->cmsg_len);
        void *d = CMSG_DATA(c);
        if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_PKTINFO) {
            struct in_pktinfo *pi = d;
            printf(" ifindex %d spec_dst %s addr %s", pi->ipi_ifindex, ip4(pi->ipi_spec_dst),
                   ip4(pi->ipi_addr));
        } else if (c->cmsg_level == SOL_IP && (c->cmsg_type == IP_TTL || c->cmsg_type == IP_TOS)) {
            int v = 0;
            memcpy(&v, d, c->cmsg_type == IP_TTL ? 4 : 1);
            printf(" %d", v);
        } else if (c->cmsg_level == SOL_IP && c->cmsg_type == IP_ORIGDSTADDR) {
            struct sockaddr_in *a = d;
            printf(" family %d %s port %s", a->sin_family, ip4(a->sin_addr),
                   ntohs(a->sin_port) == local_port ? "ours" : "other");
        } else if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
            struct in6_pktinfo *pi = d;
            printf(" ifindex %d addr %s", pi->ipi6_ifindex, ip6(&pi->ipi6_addr));
        } else if (c->cmsg_level == SOL_IPV6 &&
                   (c->cmsg_type == IPV6_HOPLIMIT || c->cmsg_type == IPV6_TCLASS)) {
            int v;
            memcpy(&v, d, 4);
            printf(" %d", v);
        } else if (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_ORIGDSTADDR) {
            struct sockaddr_in6 *a = d;
            printf(" family %d %s port %s", a->sin6_family, ip6(&a->sin6_addr),
                   ntohs(a->sin6_port) == local_port ? "ours" : "other");
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMP) {
            struct timeval tv;
            memcpy(&tv, d, sizeof tv);
            long long dt = (long long)tv.tv_sec - t0.tv_sec;
            printf(" timeval within a minute %s", dt >= -60 && dt <= 1 ? "yes" : "no");
        } else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPNS) {
            struct timespec ts;
            memcpy(&ts, d, sizeof ts);
            long long dt = (long long)ts.tv_sec - t0.tv_sec;
            printf(" timespec within a minute %s", dt >= -60 && dt <= 1 ? "yes" : "no");
        } else if ((c->cmsg_level == SOL_IP && c->cmsg_type == IP_RECVERR) ||
                   (c->cmsg_level == SOL_IPV6 && c->cmsg_type == IPV6_RECVERR)) {
            struct sock_extended_err *e = d;
            printf(" errno %s origin %d type %d code %d info %u data %u", strerrorname_np(e->ee_errno),
                   e->ee_origin, e->ee_type, e->ee_code, e->ee_info, e->ee_data);
            struct sockaddr *off = SO_EE_OFFENDER(e);
            if (off->sa_family == AF_INET)
                printf(" offender %s port %d", ip4(((struct sockaddr_in *)off)->sin_addr),
                       ntohs(((struct sockaddr_in *)off)->sin_port));
            else if (off->sa_family == AF_INET6)
                printf(" offender %s port %d", ip6(&((struct sockaddr_in6 *)off)->sin6_addr),
                       ntohs(((struct sockaddr_in6 *)off)->sin6_port));
            else
                printf(" offender family %d", off->sa_family);
        }
        printf("\n");
    }
}

static void send_cmsg(const char *what, int s, void *to, socklen_t tolen, int level, int type,
                      const void *val, size_t len) {
    char control[CMSG_SPACE(64)] = {0};
    struct iovec iov = {(void *)what, strlen(what)};
    struct msghdr m = {.msg_name = to, .msg_namelen = tolen, .msg_iov = &iov, .msg_iovlen = 1};
    if (len) {
        m.msg_control = control;
        m.msg_controllen = CMSG_SPACE(len);
        struct cmsghdr *c = CMSG_FIRSTHDR(&m);
        c->cmsg_level = level;
        c->cmsg_type = type;
        c->cmsg_len = CMSG_LEN(len);
        memcpy(CMSG_DATA(c), val, len);
    }
    printf("sendmsg %s: %s\n", what, err(sendmsg(s, &m, 0)));
}

static void ipv4(void) {
    int r = socket(AF_INET, SOCK_DGRAM, 0), s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in any = v4("0.0.0.0", 0);
    bind(r, (struct sockaddr *)&any, sizeof any);
    int port = port_of(r);
    struct sockaddr_in to = v4("127.0.0.1", port);

    // No options: no control messages.
    sendto(s, "plain", 5, 0, (struct sockaddr *)&to, sizeof to);
    show("v4 plain", r, 512, 0, port);

    setsockopt(r, SOL_IP, IP_PKTINFO, &on, sizeof on);
    setsockopt(r, SOL_IP, IP_RECVTTL, &on, sizeof on);
    setsockopt(r, SOL_IP, IP_RECVTOS, &on, sizeof on);
    // (IP_RECVORIGDSTADDR is not compared: qemu-user 7.2 does not pass it on; the IPv6
    // one is below.)
    setsockopt(r, SOL_SOCKET, SO_TIMESTAMP, &on, sizeof on);
    int v = 0;
    socklen_t vl = sizeof v;
    printf("getsockopt IP_PKTINFO %s %d\n", err(getsockopt(r, SOL_IP, IP_PKTINFO, &v, &vl)), v);
    sendto(s, "all", 3, 0, (struct sockaddr *)&to, sizeof to);
    show("v4 all", r, 512, 0, port);

    // No room for control messages: MSG_CTRUNC. (A buffer with room for some is not
    // compared: qemu-user 7.2 loses MSG_CTRUNC when it converts a cut one.)
    sendto(s, "none", 4, 0, (struct sockaddr *)&to, sizeof to);
    show("v4 no room", r, 0, 0, port);

    // TTL and TOS as the sender set them. (SO_TIMESTAMPNS is not compared: qemu-user 7.2
    // does not pass the option on.)
    setsockopt(r, SOL_SOCKET, SO_TIMESTAMP, &(int){0}, sizeof(int));
    int ttl = 9, tos = 0x10;
    setsockopt(s, SOL_IP, IP_TTL, &ttl, sizeof ttl);
    setsockopt(s, SOL_IP, IP_TOS, &tos, sizeof tos);
    sendto(s, "opts", 4, 0, (struct sockaddr *)&to, sizeof to);
    show("v4 sender options", r, 512, 0, port);

    // Per message: IP_TTL and IP_TOS as control messages override the options.
    int ttl2 = 33;
    send_cmsg("ttl-cmsg", s, &to, sizeof to, SOL_IP, IP_TTL, &ttl2, sizeof ttl2);
    show("v4 ttl cmsg", r, 512, 0, port);
    unsigned char tos2 = 0x08;
    send_cmsg("tos-cmsg", s, &to, sizeof to, SOL_IP, IP_TOS, &tos2, 1);
    show("v4 tos cmsg", r, 512, 0, port);
    int bad = 300;
    send_cmsg("bad-ttl", s, &to, sizeof to, SOL_IP, IP_TTL, &bad, sizeof bad);
    send_cmsg("short-ttl", s, &to, sizeof to, SOL_IP, IP_TTL, &bad, 2);

    // IP_PKTINFO on send picks the source address of an unbound-address sender.
    int s2 = socket(AF_INET, SOCK_DGRAM, 0);
    struct in_pktinfo pi = {0};
    inet_pton(AF_INET, "127.0.0.1", &pi.ipi_spec_dst);
    send_cmsg("pktinfo", s2, &to, sizeof to, SOL_IP, IP_PKTINFO, &pi, sizeof pi);
    show("v4 pktinfo sent", r, 512, 0, port);
    send_cmsg("short-pktinfo", s2, &to, sizeof to, SOL_IP, IP_PKTINFO, &pi, 4);
    // Unknown types at SOL_IP are EINVAL; unknown levels are skipped.
    send_cmsg("unknown-type", s2, &to, sizeof to, SOL_IP, 99, &on, sizeof on);
    send_cmsg("unknown-level", s2, &to, sizeof to, 1234, 1, &on, sizeof on);
    show("v4 after unknown level", r, 512, 0, port);
    send_cmsg("rights-on-udp", s2, &to, sizeof to, SOL_SOCKET, SCM_RIGHTS, &r, sizeof r);
    close(s2);
    close(r);
    close(s);
}

static void ipv6(void) {
    int r = socket(AF_INET6, SOCK_DGRAM, 0), s = socket(AF_INET6, SOCK_DGRAM, 0);
    struct sockaddr_in6 any = v6("::", 0);
    bind(r, (struct sockaddr *)&any, sizeof any);
    int port = port_of(r);
    struct sockaddr_in6 to = v6("::1", port);
    setsockopt(r, SOL_IPV6, IPV6_RECVPKTINFO, &on, sizeof on);
    setsockopt(r, SOL_IPV6, IPV6_RECVHOPLIMIT, &on, sizeof on);
    setsockopt(r, SOL_IPV6, IPV6_RECVTCLASS, &on, sizeof on);
    setsockopt(r, SOL_IPV6, IPV6_RECVORIGDSTADDR, &on, sizeof on);
    sendto(s, "six", 3, 0, (struct sockaddr *)&to, sizeof to);
    show("v6 all", r, 512, 0, port);
    int hops = 7, tclass = 0x20;
    send_cmsg("hoplimit-cmsg", s, &to, sizeof to, SOL_IPV6, IPV6_HOPLIMIT, &hops, sizeof hops);
    show("v6 hoplimit cmsg", r, 512, 0, port);
    send_cmsg("tclass-cmsg", s, &to, sizeof to, SOL_IPV6, IPV6_TCLASS, &tclass, sizeof tclass);
    show("v6 tclass cmsg", r, 512, 0, port);
    int hops_opt = 5;
    setsockopt(s, SOL_IPV6, IPV6_UNICAST_HOPS, &hops_opt, sizeof hops_opt);
    sendto(s, "hops", 4, 0, (struct sockaddr *)&to, sizeof to);
    show("v6 unicast hops", r, 512, 0, port);
    struct in6_pktinfo pi = {.ipi6_addr = IN6ADDR_LOOPBACK_INIT};
    send_cmsg("pktinfo6", s, &to, sizeof to, SOL_IPV6, IPV6_PKTINFO, &pi, sizeof pi);
    show("v6 pktinfo sent", r, 512, 0, port);
    // A v4 datagram to a dual-stack socket carries IP_PKTINFO only with IP_PKTINFO set.
    int s4 = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in to4 = v4("127.0.0.1", port);
    sendto(s4, "mapped", 6, 0, (struct sockaddr *)&to4, sizeof to4);
    show("v6 from v4", r, 512, 0, port);
    close(s4);
    close(r);
    close(s);
}

// IP_RECVERR: a datagram to a port nobody has bound comes back as an ICMP port
// unreachable, queued on the sender's error queue.
static void errqueue(int family) {
    const char *tag = family == AF_INET ? "v4" : "v6";
    int s = socket(family, SOCK_DGRAM, 0);
    // A free port: bind one, close it.
    int t = socket(family, SOCK_DGRAM, 0);
    struct sockaddr_storage to;
    socklen_t tolen;
    if (family == AF_INET) {
        struct sockaddr_in a = v4("127.0.0.1", 0);
        bind(t, (struct sockaddr *)&a, sizeof a);
        a.sin_port = htons(port_of(t));
        memcpy(&to, &a, tolen = sizeof a);
    } else {
        struct sockaddr_in6 a = v6("::1", 0);
        bind(t, (struct sockaddr *)&a, sizeof a);
        a.sin6_port = htons(port_of(t));
        memcpy(&to, &a, tolen = sizeof a);
    }
    close(t);

    char buf[8];
    char line[64];
    // Without IP_RECVERR: nothing queued, and MSG_ERRQUEUE does not block.
    printf("%s sendto unbound port: %s\n", tag, err(sendto(s, "lost", 4, 0, (struct sockaddr *)&to, tolen)));
    printf("%s recv ERRQUEUE empty: %s\n", tag, err(recv(s, buf, sizeof buf, MSG_ERRQUEUE)));
    printf("%s recv DONTWAIT: %s\n", tag, err(recv(s, buf, sizeof buf, MSG_DONTWAIT)));

    if (family == AF_INET)
        setsockopt(s, SOL_IP, IP_RECVERR, &on, sizeof on);
    else
        setsockopt(s, SOL_IPV6, IPV6_RECVERR, &on, sizeof on);
    printf("%s sendto with RECVERR: %s\n", tag,
           err(sendto(s, "ABCDEF", 6, 0, (struct sockaddr *)&to, tolen)));
    struct pollfd pfd = {s, POLLIN};
    int n = poll(&pfd, 1, 0);
    printf("%s poll %d%s%s\n", tag, n, pfd.revents & POLLERR ? " ERR" : "",
           pfd.revents & POLLIN ? " IN" : "");
    snprintf(line, sizeof line, "%s errqueue", tag);
    show(line, s, 512, MSG_ERRQUEUE, 0);
    int e = -1;
    socklen_t el = sizeof e;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el);
    printf("%s SO_ERROR after: %s\n", tag, e ? strerrorname_np(e) : "0");
    printf("%s recv ERRQUEUE again: %s\n", tag, err(recv(s, buf, sizeof buf, MSG_ERRQUEUE)));

    // SO_ERROR first: it takes the pending error, the queued report stays; a payload
    // longer than the buffer is cut (MSG_TRUNC).
    sendto(s, "0123456789abc", 13, 0, (struct sockaddr *)&to, tolen);
    el = sizeof e;
    getsockopt(s, SOL_SOCKET, SO_ERROR, &e, &el);
    printf("%s SO_ERROR first: %s\n", tag, e ? strerrorname_np(e) : "0");
    snprintf(line, sizeof line, "%s errqueue after SO_ERROR", tag);
    show(line, s, 512, MSG_ERRQUEUE, 0);
    close(s);
}

// IPV6_MTU: the path MTU of a connected socket (the loopback's). (IP_MTU is not
// compared: qemu-user 7.2 refuses it; Linux says ENOTCONN unconnected, 65535 over lo.)
static void mtu(void) {
    int v = 0;
    socklen_t vl = sizeof v;
    int s = socket(AF_INET6, SOCK_DGRAM, 0);
    printf("IPV6_MTU unconnected: %s\n", err(getsockopt(s, SOL_IPV6, IPV6_MTU, &v, &vl)));
    struct sockaddr_in6 to6 = v6("::1", 4002);
    connect(s, (struct sockaddr *)&to6, sizeof to6);
    vl = sizeof v;
    int r = getsockopt(s, SOL_IPV6, IPV6_MTU, &v, &vl);
    printf("IPV6_MTU connected: %s %d\n", err(r), v);
    close(s);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    mtu();
    ipv4();
    ipv6();
    errqueue(AF_INET);
    errqueue(AF_INET6);
    // AF_UNIX skips control messages of other levels.
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    struct in_pktinfo pi = {0};
    send_cmsg("unix-with-ip-cmsg", sv[0], NULL, 0, SOL_IP, IP_PKTINFO, &pi, sizeof pi);
    char buf[32];
    printf("unix recv: %s\n", err(recv(sv[1], buf, sizeof buf, MSG_DONTWAIT)));
    // unix(7) has no error queue: MSG_ERRQUEUE is an ordinary receive.
    printf("unix recv ERRQUEUE: %s\n",
           err(recv(sv[1], buf, sizeof buf, MSG_ERRQUEUE | MSG_DONTWAIT)));
    return 0;
}
