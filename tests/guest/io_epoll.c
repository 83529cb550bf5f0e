// epoll's edge-triggered and level-triggered reports (epoll(7)) over a pipe, an AF_UNIX
// socketpair, TCP over 127.0.0.1 and an eventfd: what an edge-triggered event loop (Go's
// netpoller, mio/tokio, nginx) relies on, compared with Linux line by line
// (tests/reference.rs).
//
// It prints only what Linux guarantees for an edge-triggered user that reads and writes
// until EAGAIN: a readiness that was reported is not reported again while nobody acts on
// it (an idle writable descriptor), new data after a drain is reported, room after a
// writer met EAGAIN is reported; and level-triggered entries are reported at every wait.
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

static void die(const char *what) {
  printf("FAILED: %s: %s\n", what, strerror(errno));
  exit(1);
}

static void add(int ep, int fd, unsigned events, int id) {
  struct epoll_event ev = {.events = events, .data.u64 = (unsigned)id};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) < 0) die("epoll_ctl");
}

// Prints the reports of one epoll_wait (timeout in ms) as "name: id:IN,OUT ...", sorted
// by id, so the order of the interest list does not matter; `only` (an id, or 0 for all)
// leaves out reports whose timing is the file type's own on Linux (a unix socket's writer
// hears of every read of its bytes, a pipe's only when it was full).
static void wait_only(int ep, int timeout, const char *name, int only) {
  struct epoll_event evs[8];
  int n = epoll_wait(ep, evs, 8, timeout);
  if (n < 0) die("epoll_wait");
  for (int i = 0; i < n; i++)
    for (int j = i + 1; j < n; j++)
      if (evs[j].data.u64 < evs[i].data.u64) {
        struct epoll_event t = evs[i];
        evs[i] = evs[j];
        evs[j] = t;
      }
  printf("%s:", name);
  int shown = 0;
  for (int i = 0; i < n; i++) {
    if (only && (int)evs[i].data.u64 != only) continue;
    shown++;
    printf(" %d:", (int)evs[i].data.u64);
    const char *sep = "";
    if (evs[i].events & EPOLLIN) printf("%sIN", sep), sep = ",";
    if (evs[i].events & EPOLLOUT) printf("%sOUT", sep), sep = ",";
    if (evs[i].events & EPOLLHUP) printf("%sHUP", sep), sep = ",";
    if (evs[i].events & EPOLLERR) printf("%sERR", sep), sep = ",";
  }
  printf("%s\n", shown ? "" : " nothing");
}

static void wait_and_print(int ep, int timeout, const char *name) {
  wait_only(ep, timeout, name, 0);
}

// Reads until EAGAIN; returns the bytes read.
static long drain(int fd) {
  char buf[65536];
  long total = 0;
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n > 0) {
      total += n;
      continue;
    }
    if (n < 0 && errno != EAGAIN) die("read");
    return total;
  }
}

// Writes until EAGAIN; returns the bytes written.
static long fill(int fd) {
  static char buf[65536];
  long total = 0;
  for (;;) {
    ssize_t n = write(fd, buf, sizeof buf);
    if (n > 0) {
      total += n;
      continue;
    }
    if (n < 0 && errno != EAGAIN) die("write");
    return total;
  }
}

// One reader (id 1, EPOLLIN | EPOLLET) and one writer (id 2, EPOLLOUT | EPOLLET).
static void edge_triggered(const char *kind, int r, int w) {
  printf("== %s, edge-triggered\n", kind);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  add(ep, r, EPOLLIN | EPOLLET, 1);
  add(ep, w, EPOLLOUT | EPOLLET, 2);
  wait_and_print(ep, 1000, "writable at first");
  wait_and_print(ep, 100, "then nothing");
  wait_and_print(ep, 0, "still nothing");
  if (write(w, "hello", 5) != 5) die("write");
  wait_only(ep, 1000, "after a write, the reader", 1);
  printf("drained %ld\n", drain(r));
  wait_only(ep, 100, "drained, nothing new for the reader", 1);
  if (write(w, "again", 5) != 5) die("write");
  wait_only(ep, 1000, "new data after the drain", 1);
  // Linux wakes an edge-triggered reader at every arrival, drained or not.
  char two[2];
  if (read(r, two, 2) != 2) die("read");
  wait_only(ep, 100, "read in part, nothing new", 1);
  if (write(w, "more", 4) != 4) die("write");
  wait_only(ep, 1000, "more data, not drained before", 1);
  printf("drained %ld\n", drain(r));
  long filled = fill(w);
  printf("filled: %s\n", filled > 0 ? "yes" : "no");
  wait_only(ep, 1000, "full, the reader", 1);
  wait_and_print(ep, 100, "full, nothing new");
  printf("drained all: %s\n", drain(r) == filled ? "yes" : "no");
  wait_only(ep, 1000, "emptied, the writer", 2);
  close(ep);
}

// The same reader and writer, level-triggered: reported at every wait while ready.
static void level_triggered(const char *kind, int r, int w) {
  printf("== %s, level-triggered\n", kind);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");
  add(ep, r, EPOLLIN, 1);
  add(ep, w, EPOLLOUT, 2);
  wait_and_print(ep, 1000, "writable");
  wait_and_print(ep, 1000, "writable again");
  if (write(w, "hello", 5) != 5) die("write");
  // Over TCP the bytes may take a moment to arrive (friscy's host sockets): wait for them.
  struct pollfd pfd = {.fd = r, .events = POLLIN};
  poll(&pfd, 1, 2000);
  wait_and_print(ep, 1000, "both");
  wait_and_print(ep, 1000, "both again");
  drain(r);
  wait_and_print(ep, 1000, "drained");
  close(ep);
}

static void tcp_pair(int *a, int *b) {
  int l = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof sa;
  if (l < 0 || bind(l, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(l, 1) < 0 ||
      getsockname(l, (struct sockaddr *)&sa, &len) < 0)
    die("listen");
  *a = socket(AF_INET, SOCK_STREAM, 0);
  if (*a < 0 || connect(*a, (struct sockaddr *)&sa, sizeof sa) < 0) die("connect");
  *b = accept4(l, NULL, NULL, SOCK_NONBLOCK);
  if (*b < 0) die("accept");
  fcntl(*a, F_SETFL, O_NONBLOCK);
  close(l);
}

int main(void) {
  setvbuf(stdout, NULL, _IONBF, 0);
  int p[2];
  if (pipe2(p, O_NONBLOCK) < 0) die("pipe2");
  edge_triggered("pipe", p[0], p[1]);
  level_triggered("pipe", p[0], p[1]);
  int s[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, s) < 0) die("socketpair");
  edge_triggered("unix stream", s[0], s[1]);
  level_triggered("unix stream", s[0], s[1]);
  int a, b;
  tcp_pair(&a, &b);
  level_triggered("tcp", b, a);

  // A TCP pair both ways, as the Python test suite's test_epoll does: each end
  // registered for IN | OUT | EPOLLET is writable once, then silent until data comes.
  printf("== tcp, both ends IN|OUT edge-triggered\n");
  int ep = epoll_create1(0);
  add(ep, a, EPOLLIN | EPOLLOUT | EPOLLET, 1);
  add(ep, b, EPOLLIN | EPOLLOUT | EPOLLET, 2);
  wait_and_print(ep, 1000, "writable at first");
  wait_and_print(ep, 200, "then nothing");
  if (write(a, "ping", 4) != 4) die("write");
  // Linux may also report the writer here (loopback's ACK frees its room): wait for the
  // reader only.
  struct epoll_event ev;
  int got = 0;
  for (int i = 0; i < 10 && !got; i++) {
    int n = epoll_wait(ep, &ev, 1, 1000);
    got = n == 1 && ev.data.u64 == 2 && (ev.events & EPOLLIN);
  }
  printf("the reader heard: %s\n", got ? "yes" : "no");
  printf("read %ld\n", drain(b));
  struct epoll_event rest[8];
  epoll_wait(ep, rest, 8, 0); // what Linux may still have queued for the writer
  wait_and_print(ep, 200, "drained, then nothing");
  close(ep);

  printf("== eventfd, edge-triggered\n");
  int e = eventfd(0, EFD_NONBLOCK);
  ep = epoll_create1(0);
  add(ep, e, EPOLLIN | EPOLLET, 1);
  wait_and_print(ep, 100, "empty");
  uint64_t one = 1;
  if (write(e, &one, 8) != 8) die("write");
  wait_and_print(ep, 1000, "written");
  wait_and_print(ep, 100, "then nothing");
  if (write(e, &one, 8) != 8) die("write");
  wait_and_print(ep, 1000, "written again, not read");
  uint64_t v;
  if (read(e, &v, 8) != 8) die("read");
  if (read(e, &v, 8) != -1 || errno != EAGAIN) die("read twice");
  if (write(e, &one, 8) != 8) die("write");
  wait_and_print(ep, 1000, "written after a drain");
  return 0;
}
