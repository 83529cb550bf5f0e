// ipc_pipe_write: writes larger than a pipe's free space. A blocking write (or writev)
// returns only when all of it is written; a signal after some bytes went returns their
// count, before any the call fails with EINTR; a non-blocking one writes what fits or fails
// with EAGAIN; writes of at most PIPE_BUF bytes are atomic.
#include "fs_check.h"
#include <signal.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

static void nap(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, 0);
}

static void on_alarm(int sig) { (void)sig; }

static char big[300000];

// A child that waits, then drains the pipe to end of file and exits with a checksum of
// what it read (so the parent's output order does not depend on scheduling).
static pid_t drainer(int fds[2]) {
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[1]);
        nap(50);
        static char buf[7000];
        long n, total = 0, sum = 0;
        while ((n = read(fds[0], buf, sizeof buf)) > 0) {
            for (long i = 0; i < n; i++)
                sum = (sum * 31 + (unsigned char)buf[i]) % 1000003;
            total += n;
        }
        printf("child read %ld bytes, sum %ld\n", total, sum);
        fflush(stdout);
        _exit(0);
    }
    close(fds[0]);
    return pid;
}

static void reap(pid_t pid) {
    int st;
    waitpid(pid, &st, 0);
    printf("child status %d\n", st);
}

int main(int argc, char **argv) {
    (void)argc, (void)argv;
    for (unsigned i = 0; i < sizeof big; i++)
        big[i] = (char)(i * 7 + i / 4096);
    long sum = 0;
    for (long i = 0; i < 250000; i++)
        sum = (sum * 31 + (unsigned char)big[i]) % 1000003;
    printf("expected sum of 250000 bytes %ld\n", sum);
    fflush(stdout);
    int fds[2];

    puts("-- a blocking write of 250000 bytes returns when all are written");
    T(pipe(fds));
    pid_t pid = drainer(fds);
    T(write(fds[1], big, 250000));
    T(close(fds[1]));
    reap(pid);

    puts("-- so does a blocking writev");
    T(pipe(fds));
    pid = drainer(fds);
    struct iovec iov[3] = {{big, 100000}, {big + 100000, 1}, {big + 100001, 149999}};
    T(writev(fds[1], iov, 3));
    T(close(fds[1]));
    reap(pid);

    puts("-- non-blocking: what fits, then EAGAIN; small writes are atomic");
    T(pipe2(fds, O_NONBLOCK));
    T(write(fds[1], big, 100000));
    T(write(fds[1], big, 1));
    T(writev(fds[1], iov, 3));
    static char buf[70000];
    T(read(fds[0], buf, 4096));
    T(write(fds[1], big, 8192));
    T(read(fds[0], buf, 8192));
    T(writev(fds[1], iov, 3));
    T(read(fds[0], buf, sizeof buf));
    T(write(fds[1], big, 4096));
    T(close(fds[0]));
    T(close(fds[1]));

    puts("-- a signal: EINTR before any byte, the count after some");
    struct sigaction sa = {.sa_handler = on_alarm};
    sigaction(SIGALRM, &sa, 0);
    T(pipe(fds));
    T(write(fds[1], big, 65536));
    ualarm(50000, 0);
    T(write(fds[1], big, 1));
    T(read(fds[0], buf, sizeof buf));
    pid = fork();
    if (pid == 0) {
        // Frees two pages' worth while the parent is blocked, then nothing more.
        nap(50);
        read(fds[0], buf, 8192);
        pause();
        _exit(0);
    }
    ualarm(200000, 0);
    T(write(fds[1], big, 200000)); // 65536 + 8192
    kill(pid, SIGKILL);
    reap(pid);

    puts("-- the reader goes while a writer is blocked: the count, then EPIPE");
    signal(SIGPIPE, SIG_IGN);
    T(close(fds[0]) == 0 && close(fds[1]) == 0);
    T(pipe(fds));
    pid = fork();
    if (pid == 0) {
        close(fds[1]);
        nap(50);
        read(fds[0], buf, 4096);
        nap(50); // the writer fills the space before the reader goes
        _exit(0);
    }
    close(fds[0]);
    T(write(fds[1], big, 100000)); // 65536 + 4096
    T(write(fds[1], big, 1));
    reap(pid);
    return 0;
}
