// Timers on CPU-time clocks and ITIMER_PROF, compared with Linux: what a sampling
// profiler (Go's runtime/pprof, gperftools, Python's signal-based profilers) relies on.
// Only what is the same on every machine is printed: whether signals came, to which
// thread, with which si_code and value, never how many.
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static const char *err(int r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static volatile int hits, wrong_thread, bad_info;
static volatile pid_t burner;
static volatile long expect_value;
static volatile int expect_code;

static void on_prof(int sig, siginfo_t *si, void *uc) {
    (void)sig;
    (void)uc;
    hits++;
    if (burner && syscall(SYS_gettid) != burner) wrong_thread++;
    if (si->si_code != expect_code) bad_info++;
    if (expect_code == SI_TIMER && si->si_value.sival_int != expect_value) bad_info++;
}

static double cpu_now(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

// Burn CPU until `want` signals came or `limit` seconds of this thread's CPU time passed.
static void burn(int want, double limit) {
    double start = cpu_now(CLOCK_THREAD_CPUTIME_ID);
    volatile unsigned long x = 0;
    while (hits < want && cpu_now(CLOCK_THREAD_CPUTIME_ID) - start < limit)
        for (int i = 0; i < 10000; i++) x += i;
}

static void arm(timer_t t, long ms) {
    struct itimerspec its = {.it_interval = {0, ms * 1000000}, .it_value = {0, ms * 1000000}};
    timer_settime(t, 0, &its, NULL);
}

static void disarm(timer_t t) {
    struct itimerspec its = {0};
    timer_settime(t, 0, &its, NULL);
}

static void *thread_timer(void *arg) {
    (void)arg;
    burner = syscall(SYS_gettid);
    struct sigevent ev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGPROF};
    ev.sigev_value.sival_int = 77;
    ev._sigev_un._tid = burner;
    timer_t t;
    printf("thread clock, SIGEV_THREAD_ID: %s\n",
           err(timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &t)));
    hits = wrong_thread = bad_info = 0;
    expect_code = SI_TIMER;
    expect_value = 77;
    arm(t, 5);
    burn(3, 10);
    disarm(t);
    printf("  signals came: %d, all to this thread: %d, si_code and value right: %d\n",
           hits >= 3, wrong_thread == 0, bad_info == 0);
    timer_delete(t);
    return NULL;
}

static void *burn_for_itimer(void *arg) {
    (void)arg;
    burner = syscall(SYS_gettid);
    burn(5, 10);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    struct sigaction sa = {.sa_sigaction = on_prof, .sa_flags = SA_SIGINFO | SA_RESTART};
    sigaction(SIGPROF, &sa, NULL);

    // The process's CPU clock, signalled to the process.
    struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGPROF};
    ev.sigev_value.sival_int = 42;
    timer_t t;
    printf("process clock: %s\n", err(timer_create(CLOCK_PROCESS_CPUTIME_ID, &ev, &t)));
    struct itimerspec its = {.it_value = {5, 0}};
    timer_settime(t, 0, &its, NULL);
    struct itimerspec left;
    timer_gettime(t, &left);
    printf("  armed for 5 s of CPU: left %d\n", left.it_value.tv_sec >= 4 && left.it_value.tv_sec <= 5);
    // Sleeping uses no CPU time: nothing fires.
    arm(t, 20);
    usleep(200000);
    printf("  after 200 ms asleep: %d signals\n", hits);
    expect_code = SI_TIMER;
    expect_value = 42;
    burn(3, 10);
    disarm(t);
    printf("  burning: signals came %d, si_code and value right %d\n", hits >= 3, bad_info == 0);
    timer_delete(t);

    // clock_getcpuclockid's ids name the same clocks.
    clockid_t mine;
    clock_getcpuclockid(0, &mine);
    printf("clock_getcpuclockid(0) timer: %s\n", err(timer_create(mine, &ev, &t)));
    timer_delete(t);
    pthread_getcpuclockid(pthread_self(), &mine);
    printf("pthread_getcpuclockid timer: %s\n", err(timer_create(mine, &ev, &t)));
    timer_delete(t);
    printf("a thread clock of no thread: %s\n",
           err(timer_create((clockid_t)((~99999 << 3) | 6), &ev, &t)));

    // A thread's own CPU clock, signalled to that thread.
    pthread_t th;
    pthread_create(&th, NULL, thread_timer, NULL);
    pthread_join(th, NULL);

    // ITIMER_PROF is per process, and its signal goes to the thread that used the time,
    // not to the one waiting in pthread_join.
    hits = wrong_thread = bad_info = 0;
    burner = 0;
    expect_code = SI_KERNEL;
    struct itimerval it = {.it_interval = {0, 5000}, .it_value = {0, 5000}};
    pthread_create(&th, NULL, burn_for_itimer, NULL);
    printf("setitimer(ITIMER_PROF): %s\n", err(setitimer(ITIMER_PROF, &it, NULL)));
    pthread_join(th, NULL);
    struct itimerval off = {0};
    setitimer(ITIMER_PROF, &off, NULL);
    printf("  signals came: %d, all to the busy thread: %d, si_code SI_KERNEL: %d\n", hits >= 5,
           wrong_thread == 0, bad_info == 0);
    return 0;
}
