// Checked against the host's own Linux (compiled natively: qemu-user 7.2 refuses these
// prctl options), by components/kernel/tests/fs_syscalls.rs.
//
// prctl's child subreaper (orphans are adopted by the nearest ancestor that asked, running
// or already exited), and the options that are recorded and read back: timer slack, the
// machine-check kill policy, transparent huge pages, perf events.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static void show_wait(const char *what, pid_t want) {
    int st = 0;
    pid_t got = waitpid(want, &st, 0);
    printf("%s: waitpid %s, %s, exit %d\n", what, got == want ? "that pid" : err(got),
           WIFEXITED(st) ? "exited" : "other", WEXITSTATUS(st));
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int v = -1;
    const char *r = err(prctl(PR_GET_CHILD_SUBREAPER, &v));
    printf("get subreaper: %s %d\n", r, v);
    printf("set subreaper: %s\n", err(prctl(PR_SET_CHILD_SUBREAPER, 1)));
    r = err(prctl(PR_GET_CHILD_SUBREAPER, &v));
    printf("get subreaper: %s %d\n", r, v);
    pid_t me = getpid();

    // A grandchild outlives its parent: it is ours now. (It exits 7 if its parent is
    // this process once the middle one has gone, 8 if not.)
    int fds[2], gone[2];
    pipe(fds);
    pipe(gone);
    pid_t a = fork();
    if (a == 0) {
        // The flag is not inherited.
        int w = -1;
        prctl(PR_GET_CHILD_SUBREAPER, &w);
        printf("child's subreaper flag: %d\n", w);
        pid_t b = fork();
        if (b == 0) {
            close(gone[1]);
            char c;
            read(gone[0], &c, 1); // end of file once the middle process has exited
            for (int i = 0; i < 200 && getppid() != me; i++) usleep(10000);
            _exit(getppid() == me ? 7 : 8);
        }
        write(fds[1], &b, sizeof b);
        _exit(3);
    }
    close(fds[1]);
    close(gone[0]);
    close(gone[1]);
    pid_t b;
    read(fds[0], &b, sizeof b);
    show_wait("middle process", a);
    close(fds[0]);
    show_wait("adopted grandchild", b);

    // A grandchild that exited before its parent: adopted as a zombie, reaped by us.
    pipe(fds);
    a = fork();
    if (a == 0) {
        pid_t z = fork();
        if (z == 0) _exit(9);
        write(fds[1], &z, sizeof z);
        // Do not reap it: wait until it is a zombie, then go.
        siginfo_t si;
        waitid(P_PID, z, &si, WEXITED | WNOWAIT);
        _exit(4);
    }
    close(fds[1]);
    pid_t z;
    read(fds[0], &z, sizeof z);
    close(fds[0]);
    show_wait("middle process", a);
    show_wait("adopted zombie", z);
    printf("no more children: %s\n", err(waitpid(-1, NULL, WNOHANG)));

    printf("timerslack: %d\n", prctl(PR_GET_TIMERSLACK));
    printf("set timerslack 12345: %s\n", err(prctl(PR_SET_TIMERSLACK, 12345)));
    printf("timerslack: %d\n", prctl(PR_GET_TIMERSLACK));
    printf("set timerslack 0: %s\n", err(prctl(PR_SET_TIMERSLACK, 0)));
    printf("timerslack: %d\n", prctl(PR_GET_TIMERSLACK));

    printf("mce kill get: %d\n", prctl(PR_MCE_KILL_GET, 0, 0, 0, 0));
    printf("mce kill set late: %s\n", err(prctl(PR_MCE_KILL, PR_MCE_KILL_SET, PR_MCE_KILL_LATE, 0, 0)));
    printf("mce kill get: %d\n", prctl(PR_MCE_KILL_GET, 0, 0, 0, 0));
    printf("mce kill set 7: %s\n", err(prctl(PR_MCE_KILL, PR_MCE_KILL_SET, 7, 0, 0)));
    printf("mce kill clear: %s\n", err(prctl(PR_MCE_KILL, PR_MCE_KILL_CLEAR, 0, 0, 0)));
    printf("mce kill get: %d\n", prctl(PR_MCE_KILL_GET, 0, 0, 0, 0));
    printf("mce kill get with args: %s\n", err(prctl(PR_MCE_KILL_GET, 1, 0, 0, 0)));

    printf("thp disable: %d\n", prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
    printf("set thp disable: %s\n", err(prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0)));
    printf("thp disable: %d\n", prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
    printf("set thp disable with args: %s\n", err(prctl(PR_SET_THP_DISABLE, 0, 1, 0, 0)));
    printf("set thp disable 0: %s\n", err(prctl(PR_SET_THP_DISABLE, 0, 0, 0, 0)));

    printf("perf events disable: %s\n", err(prctl(PR_TASK_PERF_EVENTS_DISABLE)));
    printf("perf events enable: %s\n", err(prctl(PR_TASK_PERF_EVENTS_ENABLE)));
    return 0;
}
