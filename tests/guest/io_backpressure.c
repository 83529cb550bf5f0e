// Back-pressure through pipes, FIFOs and sockets: a writer moves MiBs with one kind of
// call (write, writev, pwritev2, send, sendto, sendmsg, sendmmsg, sendfile, splice,
// vmsplice, tee) while a slow reader on the far side (a child that sleeps between reads)
// checksums what arrives. Optionally a timer signal interrupts the writer all along, with
// SA_RESTART or without. Every line printed must be the same as on Linux:
//
//   io_backpressure TRANSPORT SIGNALS [MIB]
//     TRANSPORT: pipe | fifo | unix | tcp | file   (file: copy_file_range, sendfile and
//                splice between regular files)
//     SIGNALS:   none | restart | intr
//
// The two rules under test: a blocking descriptor never returns EAGAIN, and a call that
// waits loses no bytes and sends none twice (the checksums on both sides, and the input
// file's offset after sendfile, must agree with the counts the calls returned).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1024 * 1024)

static size_t total;        // bytes each call kind moves
static unsigned char *data; // the stream every writer sends: data[i] for byte i
static const char *transport;
static volatile sig_atomic_t ticks;
static int problems;

static void tick(int sig) {
    (void)sig;
    ticks++;
}

static uint64_t fnv(uint64_t h, const unsigned char *p, size_t n) {
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}
#define FNV0 0xcbf29ce484222325ULL

static void fill(void) {
    uint64_t x = 0x9e3779b97f4a7c15ULL;
    for (size_t i = 0; i < total; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        data[i] = (unsigned char)(x >> 24);
    }
}

/// A call's result: EINTR is retried (nothing moved), EAGAIN on a blocking descriptor
/// and every other error are reported.
static int check(const char *what, long r) {
    if (r >= 0)
        return 1;
    if (errno == EINTR)
        return 0;
    printf("%s: %s (%s)\n", what, errno == EAGAIN ? "EAGAIN on a blocking descriptor" : "error",
           strerror(errno));
    problems++;
    return -1;
}

/// The reader: a child that reads to end of file in small pieces with a sleep every few
/// reads, and reports how many bytes arrived and their checksum on a pipe of its own
/// (the parent prints it, so lines come in a fixed order).
struct reader {
    pid_t pid;
    int result;
};

static struct reader reader(int fd, const char *label) {
    int res[2];
    if (pipe(res))
        perror("pipe"), exit(2);
    fflush(stdout);
    pid_t pid = fork();
    if (pid != 0) {
        close(res[1]);
        return (struct reader){pid, res[0]};
    }
    signal(SIGALRM, SIG_IGN);
    // Only the read end stays open here, so the writer's close is this reader's end of file.
    for (int i = 3; i < 64; i++)
        if (i != fd && i != res[1])
            close(i);
    static unsigned char buf[16384];
    uint64_t h = FNV0;
    size_t got = 0;
    int reads = 0;
    char line[160];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            int len = snprintf(line, sizeof line, "%s reader: %s\n", label, strerror(errno));
            write(res[1], line, len);
            _exit(1);
        }
        if (n == 0)
            break;
        h = fnv(h, buf, n);
        got += n;
        // Slow: a pause every few reads keeps the writer's side full.
        if (++reads % 4 == 0)
            usleep(1000);
    }
    int len = snprintf(line, sizeof line, "%s reader: %zu bytes, checksum %016llx\n", label, got,
                       (unsigned long long)h);
    write(res[1], line, len);
    _exit(0);
}

static void finish(const char *label, size_t sent, struct reader r) {
    int st;
    while (waitpid(r.pid, &st, 0) < 0 && errno == EINTR)
        ;
    char line[160];
    ssize_t n;
    while ((n = read(r.result, line, sizeof line - 1)) < 0 && errno == EINTR)
        ;
    close(r.result);
    printf("%.*s", n > 0 ? (int)n : 0, line);
    printf("%s writer: %zu bytes, checksum %016llx%s\n", label, sent,
           (unsigned long long)fnv(FNV0, data, sent),
           WIFEXITED(st) && !WEXITSTATUS(st) ? "" : " (reader failed)");
}

/// A temporary file holding the stream, for sendfile and splice.
static int data_file(void) {
    char path[] = "/tmp/io_backpressure.XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    for (size_t off = 0; off < total;) {
        ssize_t n = write(fd, data + off, total - off);
        if (n <= 0) {
            perror("data file");
            exit(2);
        }
        off += n;
    }
    lseek(fd, 0, SEEK_SET);
    return fd;
}

// --- the far side: a connected pair of descriptors for each transport.
static int tcp_listener = -1;

static void connect_pair(int fds[2]) {
    // The timer's signal must not cut the set-up short (open, connect and accept would
    // fail with EINTR): it waits until the transfer starts.
    sigset_t alrm, old;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    sigprocmask(SIG_BLOCK, &alrm, &old);
    if (!strcmp(transport, "pipe")) {
        if (pipe(fds))
            perror("pipe"), exit(2);
    } else if (!strcmp(transport, "fifo")) {
        const char *path = "/tmp/io_backpressure.fifo";
        unlink(path);
        if (mkfifo(path, 0600))
            perror("mkfifo"), exit(2);
        // O_RDWR never waits; the write end opens then, and the reader's own end after.
        int keep = open(path, O_RDWR);
        fds[1] = open(path, O_WRONLY);
        fds[0] = open(path, O_RDONLY);
        close(keep);
        unlink(path);
    } else if (!strcmp(transport, "unix")) {
        if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds))
            perror("socketpair"), exit(2);
        // fds[0] reads, fds[1] writes.
        shutdown(fds[0], SHUT_WR);
    } else {
        if (tcp_listener < 0) {
            tcp_listener = socket(AF_INET, SOCK_STREAM, 0);
            struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
            if (bind(tcp_listener, (void *)&a, sizeof a) || listen(tcp_listener, 4))
                perror("listen"), exit(2);
        }
        struct sockaddr_in a;
        socklen_t len = sizeof a;
        getsockname(tcp_listener, (void *)&a, &len);
        fds[1] = socket(AF_INET, SOCK_STREAM, 0);
        int small = 65536;
        setsockopt(fds[1], SOL_SOCKET, SO_SNDBUF, &small, sizeof small);
        if (connect(fds[1], (void *)&a, sizeof a))
            perror("connect"), exit(2);
        fds[0] = accept(tcp_listener, NULL, NULL);
        setsockopt(fds[0], SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static int is_socket(void) { return !strcmp(transport, "unix") || !strcmp(transport, "tcp"); }

// --- writers: each moves `total` bytes of `data` into `fd` and returns how many it sent.
static size_t by_write(int fd, int kind) {
    size_t off = 0;
    while (off < total) {
        size_t n = total - off < MIB ? total - off : MIB;
        long r;
        const char *what;
        if (kind == 0) {
            r = write(fd, data + off, n), what = "write";
        } else if (kind == 1) {
            struct iovec iov[3] = {{data + off, n / 4}, {data + off + n / 4, 0}, {data + off + n / 4, n - n / 4}};
            r = writev(fd, iov, 3), what = "writev";
        } else {
            struct iovec iov = {data + off, n};
            r = pwritev2(fd, &iov, 1, -1, 0), what = "pwritev2";
        }
        int ok = check(what, r);
        if (ok < 0)
            break;
        if (ok)
            off += r;
    }
    return off;
}

static size_t by_send(int fd, int kind) {
    size_t off = 0;
    while (off < total) {
        size_t n = total - off < MIB ? total - off : MIB;
        long r;
        const char *what;
        if (kind == 0) {
            r = send(fd, data + off, n, 0), what = "send";
        } else if (kind == 1) {
            r = sendto(fd, data + off, n, 0, NULL, 0), what = "sendto";
        } else if (kind == 2) {
            struct iovec iov[2] = {{data + off, n / 3}, {data + off + n / 3, n - n / 3}};
            struct msghdr m = {.msg_iov = iov, .msg_iovlen = 2};
            r = sendmsg(fd, &m, 0), what = "sendmsg";
        } else {
            // Several messages per call; a stream send blocks until each is all in.
            struct iovec iov[4];
            struct mmsghdr mm[4];
            size_t at = off;
            int k = 0;
            for (; k < 4 && at < total; k++) {
                size_t len = total - at < MIB / 4 ? total - at : MIB / 4;
                iov[k] = (struct iovec){data + at, len};
                mm[k] = (struct mmsghdr){.msg_hdr = {.msg_iov = &iov[k], .msg_iovlen = 1}};
                at += len;
            }
            r = sendmmsg(fd, mm, k, 0), what = "sendmmsg";
            if (r > 0) {
                // Messages before the last one sent are whole; the last may be partial.
                size_t moved = 0;
                for (int i = 0; i < r; i++)
                    moved += mm[i].msg_len;
                r = moved;
            }
        }
        int ok = check(what, r);
        if (ok < 0)
            break;
        if (ok)
            off += r;
    }
    return off;
}

static size_t by_sendfile(int fd, int with_offset) {
    int in = data_file();
    size_t sent = 0;
    off_t off = 0;
    while (sent < total) {
        long r = sendfile(fd, in, with_offset ? &off : NULL, total - sent);
        int ok = check("sendfile", r);
        if (ok < 0)
            break;
        if (ok && r == 0) {
            printf("sendfile: 0 before the end\n");
            break;
        }
        if (ok)
            sent += r;
    }
    off_t pos = lseek(in, 0, SEEK_CUR);
    if (with_offset ? (pos != 0 || (size_t)off != sent) : (size_t)pos != sent)
        printf("sendfile: offsets disagree with the count: count %zu, *offset %lld, file %lld\n",
               sent, (long long)off, (long long)pos);
    close(in);
    return sent;
}

/// splice: a file into the pipe directly; into a socket through a pipe of our own, the
/// classic two-step (file -> pipe -> socket).
static size_t by_splice(int fd) {
    int in = data_file();
    int mid[2] = {-1, -1};
    int to = fd;
    if (strcmp(transport, "pipe") && strcmp(transport, "fifo")) {
        pipe(mid);
        to = mid[1];
    }
    size_t sent = 0, out = 0;
    loff_t off = 0;
    while (out < total) {
        if (sent < total) {
            long r = splice(in, &off, to, NULL, total - sent, 0);
            int ok = check("splice in", r);
            if (ok < 0)
                break;
            if (ok)
                sent += r;
        }
        if (mid[0] < 0) {
            out = sent;
            continue;
        }
        long r = splice(mid[0], NULL, fd, NULL, sent - out, 0);
        int ok = check("splice out", r);
        if (ok < 0)
            break;
        if (ok)
            out += r;
    }
    if ((size_t)off != sent || lseek(in, 0, SEEK_CUR) != 0)
        printf("splice: offsets disagree with the count\n");
    close(in);
    if (mid[0] >= 0)
        close(mid[0]), close(mid[1]);
    return out;
}

static size_t by_vmsplice(int fd) {
    size_t off = 0;
    while (off < total) {
        size_t n = total - off < MIB ? total - off : MIB;
        struct iovec iov = {data + off, n};
        long r = vmsplice(fd, &iov, 1, 0);
        int ok = check("vmsplice", r);
        if (ok < 0)
            break;
        if (ok)
            off += r;
    }
    return off;
}

static void run(const char *name, int kind) {
    char label[64];
    snprintf(label, sizeof label, "%s %s", transport, name);
    int fds[2];
    connect_pair(fds);
    struct reader rd = reader(fds[0], label);
    close(fds[0]);
    size_t sent = 0;
    switch (kind) {
    case 0: case 1: case 2: sent = by_write(fds[1], kind); break;
    case 3: case 4: case 5: case 6: sent = by_send(fds[1], kind - 3); break;
    case 7: sent = by_sendfile(fds[1], 0); break;
    case 8: sent = by_sendfile(fds[1], 1); break;
    case 9: sent = by_splice(fds[1]); break;
    case 10: sent = by_vmsplice(fds[1]); break;
    }
    close(fds[1]);
    finish(label, sent, rd);
}

/// tee: a producer fills pipe A; tee copies A into B (to one reader) and splice moves A on
/// into C (to another): both readers must see the whole stream.
static void run_tee(void) {
    int a[2], b[2], c[2];
    pipe(a), pipe(b), pipe(c);
    struct reader rb = reader(b[0], "pipe tee copy");
    struct reader rc = reader(c[0], "pipe tee pass");
    close(b[0]), close(c[0]);
    fflush(stdout);
    pid_t producer = fork();
    if (producer == 0) {
        close(a[0]), close(b[1]), close(c[1]), close(rb.result), close(rc.result);
        signal(SIGALRM, SIG_IGN);
        size_t off = 0;
        while (off < total) {
            ssize_t n = write(a[1], data + off, total - off);
            if (n > 0)
                off += n;
            else if (errno != EINTR)
                _exit(1);
        }
        _exit(0);
    }
    close(a[1]);
    size_t copied = 0, passed = 0;
    for (;;) {
        long t = tee(a[0], b[1], MIB, 0);
        int ok = check("tee", t);
        if (ok < 0 || (ok && t == 0))
            break;
        if (!ok)
            continue;
        copied += t;
        // Pass on exactly what was copied.
        for (long left = t; left > 0;) {
            long r = splice(a[0], NULL, c[1], NULL, left, 0);
            int ok2 = check("splice after tee", r);
            if (ok2 < 0)
                goto out;
            if (ok2)
                left -= r, passed += r;
        }
    }
out:
    close(b[1]), close(c[1]), close(a[0]);
    while (waitpid(producer, NULL, 0) < 0 && errno == EINTR)
        ;
    finish("pipe tee copy", copied, rb);
    finish("pipe tee pass", passed, rc);
}

/// Regular files: copy_file_range, sendfile and splice (through a pipe) between files,
/// with offsets given and not.
static void run_files(void) {
    int in = data_file();
    const char *names[3] = {"copy_file_range", "sendfile", "splice"};
    for (int kind = 0; kind < 3; kind++) {
        char path[] = "/tmp/io_backpressure.out.XXXXXX";
        int out = mkstemp(path);
        unlink(path);
        lseek(in, 0, SEEK_SET);
        size_t moved = 0;
        loff_t ioff = 0, ooff = 0;
        int p[2];
        pipe(p);
        while (moved < total) {
            long r;
            if (kind == 0) {
                r = copy_file_range(in, &ioff, out, NULL, total - moved, 0);
            } else if (kind == 1) {
                r = sendfile(out, in, NULL, total - moved);
            } else {
                r = splice(in, NULL, p[1], NULL, total - moved, 0);
                if (r > 0) {
                    long left = r;
                    while (left > 0) {
                        long w = splice(p[0], NULL, out, &ooff, left, 0);
                        if (check("splice to file", w) < 0)
                            break;
                        if (w > 0)
                            left -= w;
                    }
                }
            }
            int ok = check(names[kind], r);
            if (ok < 0 || (ok && r == 0))
                break;
            if (ok)
                moved += r;
        }
        close(p[0]), close(p[1]);
        struct stat st;
        fstat(out, &st);
        unsigned char *back = malloc(total);
        ssize_t got = pread(out, back, total, 0);
        printf("file %s: %zu bytes, file %lld bytes, checksum %016llx, source offset %lld, out offset %lld\n",
               names[kind], moved, (long long)st.st_size,
               (unsigned long long)fnv(FNV0, back, got > 0 ? got : 0), (long long)lseek(in, 0, SEEK_CUR),
               (long long)(kind == 2 ? ooff : lseek(out, 0, SEEK_CUR)));
        free(back);
        close(out);
    }
    close(in);
    // One write(2), one pwritev(2) and one pread(2) of everything: on a regular file Linux
    // moves it all in one call, however large.
    char path[] = "/tmp/io_backpressure.big.XXXXXX";
    int fd = mkstemp(path);
    unlink(path);
    long w = write(fd, data, total);
    struct iovec iov[2] = {{data, total / 2 + 7}, {data + total / 2 + 7, total - total / 2 - 7}};
    long wv = pwritev(fd, iov, 2, total);
    unsigned char *back = malloc(2 * total);
    long r = pread(fd, back, 2 * total, 0);
    printf("file write %ld, pwritev %ld, pread %ld, checksums %016llx %016llx\n", w, wv, r,
           (unsigned long long)fnv(FNV0, back, total), (unsigned long long)fnv(FNV0, back + total, total));
    free(back);
    close(fd);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3) {
        fprintf(stderr, "usage: %s pipe|fifo|unix|tcp|file none|restart|intr [MIB]\n", argv[0]);
        return 2;
    }
    transport = argv[1];
    total = (argc > 3 ? atoi(argv[3]) : 2) * (size_t)MIB + 12345;
    data = malloc(total);
    fill();
    signal(SIGPIPE, SIG_IGN);
    if (strcmp(argv[2], "none")) {
        struct sigaction sa = {.sa_handler = tick};
        sa.sa_flags = strcmp(argv[2], "restart") ? 0 : SA_RESTART;
        sigaction(SIGALRM, &sa, NULL);
        struct itimerval it = {{0, 2000}, {0, 2000}};
        setitimer(ITIMER_REAL, &it, NULL);
    }
    if (!strcmp(transport, "file")) {
        run_files();
    } else {
        run("write", 0);
        run("writev", 1);
        run("pwritev2", 2);
        if (is_socket()) {
            run("send", 3);
            run("sendto", 4);
            run("sendmsg", 5);
            run("sendmmsg", 6);
        }
        run("sendfile", 7);
        run("sendfile offset", 8);
        run("splice", 9);
        if (!is_socket())
            run("vmsplice", 10);
        if (!strcmp(transport, "pipe"))
            run_tee();
    }
    struct itimerval off = {{0, 0}, {0, 0}};
    setitimer(ITIMER_REAL, &off, NULL);
    printf("%s %s: %s\n", argv[1], argv[2], problems ? "PROBLEMS" : "done");
    return problems != 0;
}
