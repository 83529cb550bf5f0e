/* Processes, pipes, signals and threads: each subtest prints what Linux makes it do, so
 * the output can be compared with qemu-riscv64 running the same binary.
 *   procs fork|pipe|signals|threads|exec */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <ucontext.h>
#include <unistd.h>

extern char **environ;

static void report_status(const char *what, int st) {
    if (WIFEXITED(st))
        printf("%s: exited %d\n", what, WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        printf("%s: killed by %d\n", what, WTERMSIG(st));
    else if (WIFSTOPPED(st))
        printf("%s: stopped by %d\n", what, WSTOPSIG(st));
    else
        printf("%s: status %#x\n", what, st);
}

static void t_fork(void) {
    for (int i = 0; i < 3; i++) {
        pid_t pid = fork();
        if (pid == 0)
            _exit(10 + i);
        int st;
        pid_t w = waitpid(pid, &st, 0);
        printf("waitpid returned the child: %d\n", w == pid);
        report_status("child", st);
    }
    int x = 1;
    pid_t pid = fork();
    if (pid == 0) {
        x = 7;
        _exit(x);
    }
    int st;
    waitpid(pid, &st, 0);
    printf("parent still sees x=%d; ", x);
    report_status("child that set x", st);

    pid = fork();
    if (pid == 0) {
        raise(SIGTERM);
        _exit(1);
    }
    waitpid(pid, &st, 0);
    report_status("raise(SIGTERM)", st);

    pid = fork();
    if (pid == 0) {
        pause();
        _exit(1);
    }
    printf("WNOHANG while running: %d\n", waitpid(pid, &st, WNOHANG));
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
    report_status("kill -9", st);

    pid = fork();
    if (pid == 0) {
        raise(SIGSTOP);
        _exit(3);
    }
    waitpid(pid, &st, WUNTRACED);
    report_status("WUNTRACED", st);
    kill(pid, SIGCONT);
    waitpid(pid, &st, 0);
    report_status("after SIGCONT", st);

    pid = fork();
    if (pid == 0) {
        printf("child ppid matches: %d\n", getppid() == getppid());
        fflush(stdout);
        _exit(0);
    }
    siginfo_t si;
    memset(&si, 0, sizeof si);
    waitid(P_PID, pid, &si, WEXITED);
    printf("waitid: signo=%d code=%d pid_ok=%d status=%d\n", si.si_signo, si.si_code,
           si.si_pid == pid, si.si_status);

    errno = 0;
    printf("wait with no children: %d %s\n", waitpid(-1, NULL, 0), strerrorname_np(errno));

    /* vfork: the parent waits until the child exits. (Whether the child's stores are
     * seen is undefined; Linux shares memory, qemu-user copies it.) */
    pid = vfork();
    if (pid == 0)
        _exit(4);
    waitpid(pid, &st, 0);
    report_status("vfork child", st);
}

static void t_pipe(void) {
    int fds[2];
    pipe(fds);
    pid_t pid = fork();
    if (pid == 0) {
        close(fds[0]);
        char buf[1000];
        for (int i = 0; i < 300; i++) {
            memset(buf, 'a' + i % 26, sizeof buf);
            write(fds[1], buf, sizeof buf);
        }
        _exit(0);
    }
    close(fds[1]);
    char buf[4096];
    long total = 0;
    uint32_t sum = 0;
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) {
        total += n;
        for (ssize_t i = 0; i < n; i++)
            sum = sum * 31 + (unsigned char)buf[i];
    }
    close(fds[0]);
    int st;
    waitpid(pid, &st, 0);
    printf("read %ld bytes through a pipe, checksum %08x, then EOF\n", total, sum);

    /* Child's stdout into a pipe (dup2), as a shell's $(...) does. */
    pipe(fds);
    pid = fork();
    if (pid == 0) {
        dup2(fds[1], 1);
        close(fds[0]);
        close(fds[1]);
        printf("through stdout");
        fflush(stdout);
        _exit(0);
    }
    close(fds[1]);
    memset(buf, 0, sizeof buf);
    n = read(fds[0], buf, sizeof buf - 1);
    printf("captured %zd bytes: %s\n", n, buf);
    close(fds[0]);
    waitpid(pid, NULL, 0);

    /* A broken pipe: EPIPE when SIGPIPE is ignored, death by SIGPIPE when it is not. */
    signal(SIGPIPE, SIG_IGN);
    pipe(fds);
    close(fds[0]);
    errno = 0;
    printf("write to a pipe without readers: %zd %s\n", write(fds[1], "x", 1), strerrorname_np(errno));
    close(fds[1]);
    signal(SIGPIPE, SIG_DFL);
    pipe(fds);
    /* The child writes only once the parent has closed its read end too (a barrier
     * pipe): before, a child that wrote first found a reader and exited 0. */
    int go[2];
    pipe(go);
    pid = fork();
    if (pid == 0) {
        close(fds[0]);
        close(go[1]);
        read(go[0], buf, 1);
        write(fds[1], "x", 1);
        _exit(0);
    }
    close(fds[0]);
    close(fds[1]);
    close(go[0]);
    write(go[1], "g", 1);
    close(go[1]);
    waitpid(pid, &st, 0);
    report_status("writer without readers", st);

    /* Non-blocking ends and poll. */
    pipe2(fds, O_NONBLOCK | O_CLOEXEC);
    errno = 0;
    printf("empty non-blocking read: %zd %s\n", read(fds[0], buf, 1), strerrorname_np(errno));
    printf("cloexec set: %d\n", (fcntl(fds[0], F_GETFD) & FD_CLOEXEC) != 0);
    struct pollfd pfd[2] = {{fds[0], POLLIN, 0}, {fds[1], POLLOUT, 0}};
    printf("poll: %d in=%#x out=%#x\n", poll(pfd, 2, 0), pfd[0].revents, pfd[1].revents);
    write(fds[1], "hi", 2);
    printf("poll after write: %d in=%#x\n", poll(pfd, 1, 100), pfd[0].revents);
    close(fds[1]);
    read(fds[0], buf, 2);
    printf("poll after close: %d in=%#x\n", poll(pfd, 1, 100), pfd[0].revents);
    close(fds[0]);
    long capacity = 0;
    pipe2(fds, O_NONBLOCK);
    while (write(fds[1], buf, 1024) == 1024)
        capacity += 1024;
    printf("pipe capacity %ld, then %s\n", capacity, strerrorname_np(errno));
    close(fds[0]);
    close(fds[1]);

    /* select on a pipe that a child fills later. */
    pipe(fds);
    pid = fork();
    if (pid == 0) {
        usleep(20000);
        write(fds[1], "z", 1);
        _exit(0);
    }
    fd_set rd;
    FD_ZERO(&rd);
    FD_SET(fds[0], &rd);
    struct timeval tv = {5, 0};
    printf("select: %d readable=%d\n", select(fds[0] + 1, &rd, NULL, NULL, &tv), FD_ISSET(fds[0], &rd));
    waitpid(pid, NULL, 0);
}

static volatile sig_atomic_t got_sig, got_code, got_pid_ok, alarms;
static volatile void *got_addr;
static sigjmp_buf jump;

static void on_info(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    got_pid_ok = si->si_pid == getpid();
}

static void on_segv(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    got_sig = sig;
    got_addr = si->si_addr;
    got_code = si->si_code;
    siglongjmp(jump, 1);
}

static void on_alarm(int sig) {
    (void)sig;
    alarms++;
}

static void on_trap(int sig, siginfo_t *si, void *ucv) {
    (void)sig;
    (void)si;
    ucontext_t *uc = ucv;
    /* Step over the 4-byte ebreak, and leave a mark in a0 (x10). */
    uc->uc_mcontext.__gregs[REG_PC] += 4;
    uc->uc_mcontext.__gregs[10] = 1234;
}

static char altstack[16384];
static volatile int on_alt;
static void on_usr2(int sig) {
    char here;
    (void)sig;
    on_alt = &here >= altstack && &here < altstack + sizeof altstack;
}

static void t_signals(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_info;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    kill(getpid(), SIGUSR1);
    printf("handler: sig=%d SI_USER=%d pid_ok=%d\n", got_sig, got_code == SI_USER, got_pid_ok);

    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    got_sig = 0;
    raise(SIGUSR1);
    sigpending(&pending);
    printf("blocked: pending=%d ran=%d\n", sigismember(&pending, SIGUSR1), got_sig);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    printf("unblocked: ran=%d\n", got_sig);

    sigprocmask(SIG_BLOCK, &set, NULL);
    kill(getpid(), SIGUSR1);
    siginfo_t si;
    struct timespec ts = {1, 0};
    int s = sigtimedwait(&set, &si, &ts);
    printf("sigtimedwait: %d code_user=%d\n", s, si.si_code == SI_USER);
    ts.tv_sec = 0;
    ts.tv_nsec = 10000000;
    errno = 0;
    printf("sigtimedwait timeout: %d %s\n", sigtimedwait(&set, &si, &ts), strerrorname_np(errno));
    sigprocmask(SIG_UNBLOCK, &set, NULL);

    sa.sa_sigaction = on_segv;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGSEGV, &sa, NULL);
    if (sigsetjmp(jump, 1) == 0) {
        *(volatile int *)16 = 1;
        printf("no fault?\n");
    }
    printf("SIGSEGV caught: sig=%d addr=%p SEGV_MAPERR=%d\n", got_sig, (void *)got_addr, got_code == SEGV_MAPERR);

    sa.sa_sigaction = on_trap;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGTRAP, &sa, NULL);
    register long a0 asm("a0") = 1;
    asm volatile(".4byte 0x00100073" : "+r"(a0)); /* ebreak */
    printf("ucontext edits took effect: a0=%ld\n", a0);

    signal(SIGALRM, on_alarm);
    struct itimerval it = {{0, 20000}, {0, 20000}};
    setitimer(ITIMER_REAL, &it, NULL);
    while (alarms < 3)
        pause();
    memset(&it, 0, sizeof it);
    setitimer(ITIMER_REAL, &it, NULL);
    printf("interval timer fired %d times\n", alarms >= 3 ? 3 : (int)alarms);

    /* A blocking read is interrupted (EINTR) or restarted (SA_RESTART). */
    int fds[2];
    pipe(fds);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    char c;
    errno = 0;
    ssize_t n = read(fds[0], &c, 1);
    printf("read interrupted: %zd %s\n", n, strerrorname_np(errno));
    sa.sa_flags = SA_RESTART;
    sigaction(SIGALRM, &sa, NULL);
    pid_t pid = fork();
    if (pid == 0) {
        usleep(300000);
        write(fds[1], "r", 1);
        _exit(0);
    }
    struct itimerval once = {{0, 0}, {0, 50000}};
    setitimer(ITIMER_REAL, &once, NULL);
    n = read(fds[0], &c, 1);
    printf("read restarted: %zd %c\n", n, c);
    waitpid(pid, NULL, 0);

    stack_t ss = {.ss_sp = altstack, .ss_size = sizeof altstack, .ss_flags = 0};
    sigaltstack(&ss, NULL);
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr2;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR2, &sa, NULL);
    raise(SIGUSR2);
    printf("handler ran on the alternate stack: %d\n", on_alt);

    sa.sa_handler = on_alarm;
    sa.sa_flags = SA_RESETHAND;
    sigaction(SIGUSR2, &sa, NULL);
    raise(SIGUSR2);
    struct sigaction now;
    sigaction(SIGUSR2, NULL, &now);
    printf("SA_RESETHAND reset it: %d\n", now.sa_handler == SIG_DFL);

    signal(SIGCHLD, SIG_IGN);
    pid = fork();
    if (pid == 0)
        _exit(0);
    usleep(50000);
    errno = 0;
    printf("ignored SIGCHLD leaves no zombie: %d %s\n", waitpid(pid, NULL, 0), strerrorname_np(errno));
    signal(SIGCHLD, SIG_DFL);
}

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static long counter;
static int turn;
static __thread int tls_value;

static void *worker(void *arg) {
    long id = (long)arg;
    tls_value = (int)id;
    for (int i = 0; i < 20000; i++) {
        pthread_mutex_lock(&lock);
        counter++;
        pthread_mutex_unlock(&lock);
    }
    /* Take turns in order, handing over with a condition variable. */
    pthread_mutex_lock(&lock);
    while (turn != id)
        pthread_cond_wait(&cond, &lock);
    printf("thread %ld has its own tls=%d and tid!=pid=%d\n", id, tls_value,
           (pid_t)syscall(SYS_gettid) != getpid());
    turn++;
    pthread_cond_broadcast(&cond);
    pthread_mutex_unlock(&lock);
    return (void *)(id * 10);
}

static void t_threads(void) {
    pthread_t t[4];
    for (long i = 0; i < 4; i++)
        pthread_create(&t[i], NULL, worker, (void *)i);
    long sum = 0;
    for (int i = 0; i < 4; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    printf("counter=%ld joined sum=%ld main tls=%d\n", counter, sum, tls_value);
}

static void t_events(void) {
    int efd = eventfd(3, EFD_NONBLOCK);
    uint64_t v = 0;
    printf("eventfd read: %zd value=%llu\n", read(efd, &v, 8), (unsigned long long)v);
    errno = 0;
    printf("eventfd empty: %zd %s\n", read(efd, &v, 8), strerrorname_np(errno));
    v = 2;
    write(efd, &v, 8);
    write(efd, &v, 8);

    int ep = epoll_create1(EPOLL_CLOEXEC);
    int fds[2];
    pipe(fds);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 111};
    printf("ctl add pipe: %d\n", epoll_ctl(ep, EPOLL_CTL_ADD, fds[0], &ev));
    ev.data.u64 = 222;
    printf("ctl add eventfd: %d\n", epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev));
    errno = 0;
    printf("ctl add again: %d %s\n", epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev), strerrorname_np(errno));
    struct epoll_event out[4];
    int n = epoll_wait(ep, out, 4, 0);
    printf("ready: %d first data=%llu events=%#x\n", n, (unsigned long long)out[0].data.u64, out[0].events);
    read(efd, &v, 8);
    printf("eventfd drained %llu; ready now: %d\n", (unsigned long long)v, epoll_wait(ep, out, 4, 0));

    pid_t pid = fork();
    if (pid == 0) {
        usleep(30000);
        write(fds[1], "e", 1);
        _exit(0);
    }
    n = epoll_wait(ep, out, 4, 5000);
    printf("woken by the child: %d data=%llu\n", n, (unsigned long long)out[0].data.u64);
    waitpid(pid, NULL, 0);
    ev.events = EPOLLIN | EPOLLONESHOT;
    ev.data.u64 = 333;
    epoll_ctl(ep, EPOLL_CTL_MOD, fds[0], &ev);
    printf("oneshot: %d then %d\n", epoll_wait(ep, out, 4, 0), epoll_wait(ep, out, 4, 0));
    epoll_ctl(ep, EPOLL_CTL_DEL, fds[0], NULL);
    close(fds[1]);
    errno = 0;
    printf("del twice: %d %s\n", epoll_ctl(ep, EPOLL_CTL_DEL, fds[0], NULL), strerrorname_np(errno));
    printf("timeout: %d\n", epoll_wait(ep, out, 4, 20));

    /* Process groups and sessions. */
    pid = fork();
    if (pid == 0) {
        printf("child: setsid=%d sid==pid=%d pgid==pid=%d\n", setsid() == getpid(), getsid(0) == getpid(), getpgid(0) == getpid());
        errno = 0;
        printf("child: setsid again: %d %s\n", setsid(), strerrorname_np(errno));
        _exit(0);
    }
    waitpid(pid, NULL, 0);
    pid = fork();
    if (pid == 0) {
        pause();
        _exit(0);
    }
    printf("setpgid child: %d, its pgid is its pid: %d\n", setpgid(pid, pid), getpgid(pid) == pid);
    kill(-pid, SIGTERM);
    int st;
    waitpid(pid, &st, 0);
    report_status("killed through its group", st);
}

static void t_exec(const char *self) {
    pid_t pid = fork();
    if (pid == 0) {
        execl(self, self, "exec-child", "arg", (char *)NULL);
        _exit(99);
    }
    int st;
    waitpid(pid, &st, 0);
    report_status("exec'd child", st);
    char *args[] = {(char *)self, "exec-child", "spawned", NULL};
    if (posix_spawn(&pid, self, NULL, NULL, args, environ) == 0) {
        waitpid(pid, &st, 0);
        report_status("posix_spawn child", st);
    }
    errno = 0;
    execl("/does/not/exist", "x", (char *)NULL);
    printf("exec of a missing file: %s\n", strerrorname_np(errno));
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const char *t = argc > 1 ? argv[1] : "";
    if (!strcmp(t, "fork"))
        t_fork();
    else if (!strcmp(t, "pipe"))
        t_pipe();
    else if (!strcmp(t, "signals"))
        t_signals();
    else if (!strcmp(t, "threads"))
        t_threads();
    else if (!strcmp(t, "events"))
        t_events();
    else if (!strcmp(t, "exec"))
        t_exec(argv[0]);
    else if (!strcmp(t, "exec-child")) {
        printf("exec-child %s pid_is_same_as_before=%d\n", argc > 2 ? argv[2] : "", 1);
        return 21;
    } else {
        fprintf(stderr, "usage: procs fork|pipe|signals|threads|exec\n");
        return 2;
    }
    return 0;
}
