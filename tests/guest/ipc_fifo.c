// ipc_fifo: named pipes made by mknod/mkfifo. One pipe per FIFO shared by every opener;
// blocking opens wait for the other end (a signal interrupts them); non-blocking opens;
// O_RDWR; end of file, EPIPE, poll and epoll readiness; the data goes with the last close.
#include "fs_check.h"
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>

static void nap(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, 0);
}

static short revents(int fd, short events) {
    struct pollfd p = {.fd = fd, .events = events};
    poll(&p, 1, 0);
    return p.revents;
}

static void on_alarm(int sig) { (void)sig; }

// A child that opens the FIFO with `flags` (blocking until the parent opens the other
// end), then reads or writes, and reports through its exit status.
static pid_t child_opens(int flags) {
    pid_t pid = fork();
    if (pid == 0) {
        int fd = open("p", flags);
        if (fd < 0)
            _exit(100);
        char buf[64] = {0};
        if ((flags & O_ACCMODE) == O_WRONLY)
            _exit(write(fd, "from child", 10) == 10 ? 7 : 101);
        long n = read(fd, buf, sizeof buf);
        _exit(n == 0 ? 50 : n == 11 && memcmp(buf, "from parent", 11) == 0 ? 8 : 102);
    }
    return pid;
}

static void reap(pid_t pid) {
    int st;
    T(waitpid(pid, &st, 0) == pid);
    printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
}

int main(int argc, char **argv) {
    enter(argc, argv);
    signal(SIGPIPE, SIG_IGN);
    T(mkfifo("p", 0666));
    show("p");
    T(mknodat(AT_FDCWD, "q", S_IFIFO | 0600, 0));
    show("q");

    puts("-- non-blocking opens");
    T(open("p", O_WRONLY | O_NONBLOCK));
    int r, w, rw;
    T(r = open("p", O_RDONLY | O_NONBLOCK));
    struct stat st;
    T(fstat(r, &st));
    printf("fstat: fifo %d mode %o\n", S_ISFIFO(st.st_mode), st.st_mode & 07777);
    char buf[128];
    T(read(r, buf, sizeof buf)); // no writer: end of file
    printf("poll before any writer: %#x\n", revents(r, POLLIN));
    T(w = open("p", O_WRONLY | O_NONBLOCK));
    printf("poll writer: %#x reader: %#x\n", revents(w, POLLOUT), revents(r, POLLIN));
    T(write(w, "abc", 3));
    printf("poll reader after write: %#x\n", revents(r, POLLIN));
    T(read(r, buf, sizeof buf));
    T(read(r, buf, sizeof buf)); // writer still open: would block
    T(close(w));
    printf("poll reader after the writer closed: %#x\n", revents(r, POLLIN));
    T(read(r, buf, sizeof buf));
    T(w = open("p", O_WRONLY | O_NONBLOCK));
    T(close(r));
    printf("poll writer without readers: %#x\n", revents(w, POLLOUT));
    T(write(w, "x", 1)); // EPIPE
    T(close(w));

    puts("-- O_RDWR never blocks, and the data goes with the last close");
    T(rw = open("p", O_RDWR));
    printf("poll rdwr: %#x\n", revents(rw, POLLIN | POLLOUT));
    T(write(rw, "xyz", 3));
    printf("poll rdwr: %#x\n", revents(rw, POLLIN | POLLOUT));
    T(read(rw, buf, 2));
    T(write(rw, "left", 4));
    T(close(rw));
    T(r = open("p", O_RDONLY | O_NONBLOCK));
    T(read(r, buf, sizeof buf));
    T(close(r));

    puts("-- two openers share one pipe");
    T(rw = open("p", O_RDWR));
    T(r = open("p", O_RDONLY));
    T(w = open("p", O_WRONLY));
    T(write(w, "shared", 6));
    T(read(r, buf, sizeof buf));
    int ep;
    T(ep = epoll_create1(0));
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 42}, out[2];
    T(epoll_ctl(ep, EPOLL_CTL_ADD, r, &ev));
    T(epoll_wait(ep, out, 2, 0));
    T(write(rw, "more", 4));
    T(epoll_wait(ep, out, 2, 0));
    printf("epoll: events %#x data %lu\n", out[0].events, (unsigned long)out[0].data.u64);
    T(close(ep));
    T(close(r));
    T(close(w));
    T(close(rw));

    puts("-- a blocking reader waits for a writer");
    pid_t pid = child_opens(O_RDONLY);
    nap(50);
    T(w = open("p", O_WRONLY));
    T(write(w, "from parent", 11));
    T(close(w));
    reap(pid);

    puts("-- a blocking writer waits for a reader");
    pid = child_opens(O_WRONLY);
    nap(50);
    T(r = open("p", O_RDONLY));
    memset(buf, 0, sizeof buf);
    T(read(r, buf, sizeof buf));
    printf("read \"%s\"\n", buf);
    T(read(r, buf, sizeof buf)); // the child closed: end of file
    T(close(r));
    reap(pid);

    puts("-- a writer that came and went still ends a reader's wait");
    pid = child_opens(O_RDONLY);
    nap(50);
    T(w = open("p", O_WRONLY));
    T(close(w));
    reap(pid);

    puts("-- a waiting open holds the inode: renaming the FIFO does not matter");
    pid = child_opens(O_RDONLY);
    nap(50);
    T(rename("p", "p2"));
    T(w = open("p2", O_WRONLY));
    T(write(w, "from parent", 11));
    T(close(w));
    reap(pid);
    T(rename("p2", "p"));

    puts("-- a signal interrupts a blocking open");
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, 0);
    ualarm(50000, 0);
    T(open("p", O_RDONLY));
    // The interrupted reader no longer counts: a non-blocking writer finds none.
    T(open("p", O_WRONLY | O_NONBLOCK));
    ualarm(50000, 0);
    T(open("p", O_WRONLY));
    T(r = open("p", O_RDONLY | O_NONBLOCK));
    T(read(r, buf, sizeof buf));
    T(close(r));
    T(unlink("p"));
    T(unlink("q"));
    return 0;
}
