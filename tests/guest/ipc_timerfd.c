// ipc_timerfd: timerfd_create, timerfd_settime, timerfd_gettime. One-shot and interval
// timers on CLOCK_MONOTONIC and CLOCK_REALTIME, relative and absolute (TFD_TIMER_ABSTIME),
// reads of the expiration count (EAGAIN when non-blocking, a wait otherwise, EINTR on a
// signal), and readiness in poll, ppoll, pselect6 and epoll, also with no other timeout.
#include "fs_check.h"
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/timerfd.h>
#include <time.h>

#define MS 1000000L

static struct itimerspec its(long value_ns, long interval_ns) {
    struct itimerspec t = {{interval_ns / 1000000000L, interval_ns % 1000000000L},
                           {value_ns / 1000000000L, value_ns % 1000000000L}};
    return t;
}

static long ns_of(struct timespec t) { return t.tv_sec * 1000000000L + t.tv_nsec; }

static uint64_t count;

static void on_alarm(int sig) { (void)sig; }

int main(int argc, char **argv) {
    enter(argc, argv);
    int fd, bfd, ep;
    struct itimerspec t, old;

    puts("-- errors");
    T(timerfd_create(CLOCK_MONOTONIC, 0x1000));
    T(timerfd_create(12345, 0));
    T(fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
    T(fcntl(fd, F_GETFD));
    T(fcntl(fd, F_GETFL) & (O_NONBLOCK | O_ACCMODE));
    t = its(1000000000L, 0);
    t.it_value.tv_nsec = 1000000000L;
    T(timerfd_settime(fd, 0, &t, 0));
    t = its(MS, 0);
    T(timerfd_settime(fd, 0x100, &t, 0));
    T(timerfd_settime(0, 0, &t, 0));
    T(read(fd, &count, 4));
    T(lseek(fd, 0, SEEK_SET));

    puts("-- a one-shot timer");
    T(read(fd, &count, 8)); // not armed
    T(timerfd_gettime(fd, &t));
    printf("disarmed: %ld %ld\n", ns_of(t.it_value), ns_of(t.it_interval));
    t = its(60 * MS, 0);
    T(timerfd_settime(fd, 0, &t, &old));
    printf("old: %ld %ld\n", ns_of(old.it_value), ns_of(old.it_interval));
    T(timerfd_gettime(fd, &t));
    printf("remaining in (0, 60ms]: %d\n", ns_of(t.it_value) > 0 && ns_of(t.it_value) <= 60 * MS);
    T(read(fd, &count, 8));
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    T(poll(&pfd, 1, 0));
    T(poll(&pfd, 1, -1)); // woken by the timer alone
    printf("revents %#x\n", pfd.revents);
    T(read(fd, &count, 8));
    printf("count %lu\n", (unsigned long)count);
    T(read(fd, &count, 8));
    T(timerfd_gettime(fd, &t));
    printf("expired: %ld %ld\n", ns_of(t.it_value), ns_of(t.it_interval));

    puts("-- an interval timer counts every expiry");
    t = its(20 * MS, 20 * MS);
    T(timerfd_settime(fd, 0, &t, 0));
    struct timespec nap = {0, 110 * MS};
    nanosleep(&nap, 0);
    T(read(fd, &count, 8));
    printf("count in [4, 6]: %d\n", count >= 4 && count <= 6);
    T(timerfd_gettime(fd, &t));
    printf("interval %ld, next in (0, 20ms]: %d\n", ns_of(t.it_interval),
           ns_of(t.it_value) > 0 && ns_of(t.it_value) <= 20 * MS);
    T(timerfd_settime(fd, 0, &(struct itimerspec){0}, &old));
    printf("old interval %ld\n", ns_of(old.it_interval));
    nanosleep(&nap, 0);
    T(read(fd, &count, 8)); // disarmed: nothing more

    puts("-- a blocking read waits for the expiry");
    T(bfd = timerfd_create(CLOCK_MONOTONIC, 0));
    t = its(30 * MS, 0);
    T(timerfd_settime(bfd, 0, &t, 0));
    T(read(bfd, &count, 8));
    printf("count %lu\n", (unsigned long)count);

    puts("-- absolute times");
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    t = its(ns_of(now) + 30 * MS, 0);
    T(timerfd_settime(bfd, TFD_TIMER_ABSTIME, &t, 0));
    T(read(bfd, &count, 8));
    printf("count %lu\n", (unsigned long)count);
    t = its(ns_of(now) - 1000 * MS, 100 * MS); // in the past: ten intervals already
    T(timerfd_settime(bfd, TFD_TIMER_ABSTIME, &t, 0));
    T(read(bfd, &count, 8));
    printf("count in [10, 12]: %d\n", count >= 10 && count <= 12);
    int rfd;
    T(rfd = timerfd_create(CLOCK_REALTIME, TFD_NONBLOCK));
    clock_gettime(CLOCK_REALTIME, &now);
    t = its(ns_of(now) + 30 * MS, 0);
    T(timerfd_settime(rfd, TFD_TIMER_ABSTIME, &t, 0));
    T(read(rfd, &count, 8));

    puts("-- epoll, ppoll and pselect6");
    T(ep = epoll_create1(0));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 7}, out[2];
    T(epoll_ctl(ep, EPOLL_CTL_ADD, rfd, &ev));
    T(epoll_wait(ep, out, 2, -1));
    printf("events %#x data %lu\n", out[0].events, (unsigned long)out[0].data.u64);
    T(read(rfd, &count, 8));
    printf("count %lu\n", (unsigned long)count);
    T(epoll_wait(ep, out, 2, 0));
    t = its(30 * MS, 0);
    T(timerfd_settime(fd, 0, &t, 0));
    struct timespec zero = {0, 0}, five = {5, 0};
    T(ppoll(&pfd, 1, &zero, 0));
    T(ppoll(&pfd, 1, &five, 0));
    T(read(fd, &count, 8));
    T(timerfd_settime(fd, 0, &t, 0));
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(fd, &rd);
    T(select(fd + 1, &rd, 0, 0, 0));
    printf("readable %d\n", FD_ISSET(fd, &rd));
    T(read(fd, &count, 8));

    puts("-- a signal interrupts a blocking read");
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, 0);
    t = its(5000 * MS, 0);
    T(timerfd_settime(bfd, 0, &t, 0));
    ualarm(30000, 0);
    T(read(bfd, &count, 8));
    T(close(bfd));
    T(close(fd));
    T(close(rfd));
    return 0;
}
