// sys_misc: personality, getcpu, membarrier, the mlock family, mincore and queued
// signals (sigqueue, rt_tgsigqueueinfo, si_uid) and unshare, printed for comparison with Linux.
// Only what does not depend on the host is printed (not which CPU, not the full
// membarrier command set, not untouched pages' residency).
#include "fs_check.h"
#include <linux/membarrier.h>
#ifndef MEMBARRIER_CMD_GET_REGISTRATIONS
#define MEMBARRIER_CMD_GET_REGISTRATIONS (1 << 9)
#endif
#include <signal.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <pthread.h>
#include <sched.h>
#include <sys/sem.h>
#include <sys/signalfd.h>
#include <sys/wait.h>

static void wait_child(pid_t pid) {
    int status;
    waitpid(pid, &status, 0);
    printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    fflush(stdout);
}

static void show_personality(void) {
    char buf[32] = {0};
    int fd = open("/proc/self/personality", O_RDONLY);
    int n = fd < 0 ? -1 : read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("/proc/self/personality: %s", n > 0 ? buf : "(unreadable)\n");
    fflush(stdout);
}

static void personalities(void) {
    T(personality(0xffffffff));
    T(personality(PER_LINUX | ADDR_NO_RANDOMIZE));
    T(personality(0xffffffff));
    show_personality();
    pid_t pid = fork();
    if (pid == 0) {
        T(personality(0xffffffff));
        _exit(0);
    }
    wait_child(pid);
    T(personality(PER_LINUX));
    T(personality(0xffffffff));
}

static void cpus(void) {
    unsigned cpu = 99, node = 99;
    T(syscall(SYS_getcpu, &cpu, &node, NULL));
    printf("  -> cpu below 1024 %d, node %u\n", cpu < 1024, node);
    T(syscall(SYS_getcpu, NULL, NULL, NULL));
}

static void barriers(void) {
    T(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
    T(syscall(SYS_membarrier, MEMBARRIER_CMD_GLOBAL_EXPEDITED, 0, 0));
    T(syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0));
    T(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0));
    T(syscall(SYS_membarrier, MEMBARRIER_CMD_GET_REGISTRATIONS, 0, 0));
    T(syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 1, 0));
    T(syscall(SYS_membarrier, 1 << 20, 0, 0));
    long q = syscall(SYS_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);
    printf("query has private expedited %d\n", q > 0 && (q & MEMBARRIER_CMD_PRIVATE_EXPEDITED) != 0);
}

static void locks(void) {
    size_t big = 1 << 20;
    char *m = mmap(NULL, big, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(m, 1, 3 * 4096);
    T(mlock(m, 4096));
    T(mlock(m + 100, 4096));
    T(munlock(m, 4096));
    // (mlock2 is left out: qemu-user 7.2 answers it with ENOSYS.)
    T(mlockall(0));
    T(mlockall(MCL_ONFAULT));
    T(mlockall(8));
    T(mlockall(MCL_CURRENT | MCL_FUTURE));
    T(munlockall());
    unsigned char vec[4] = {9, 9, 9, 9};
    T(mincore(m, 3 * 4096, vec));
    printf("  -> %d %d %d\n", vec[0], vec[1], vec[2]);
    T(mincore(m + 1, 4096, vec));
    T(munmap(m + 4096, 4096));
    T(mlock(m, 3 * 4096));
    T(munlock(m, 3 * 4096));
    T(mincore(m, 3 * 4096, vec));
    // Another user, under a 64 KiB limit, then none.
    struct rlimit r = {65536, 65536};
    T(setrlimit(RLIMIT_MEMLOCK, &r));
    pid_t pid = fork();
    if (pid == 0) {
        T(setresuid(1000, 1000, 1000));
        T(mlock(m, 4096));
        T(mlock(m + 8192, big - 8192));
        T(mlockall(MCL_CURRENT));
        T(mlockall(MCL_FUTURE));
        struct rlimit none = {0, 0};
        T(setrlimit(RLIMIT_MEMLOCK, &none));
        T(mlock(m, 4096));
        T(mlockall(MCL_FUTURE));
        T(setrlimit(RLIMIT_MEMLOCK, &r));
        _exit(0);
    }
    wait_child(pid);
}

static volatile sig_atomic_t got;
static siginfo_t last;

static void on_signal(int sig, siginfo_t *si, void *uc) {
    (void)uc;
    got = sig;
    last = *si;
}

// kill(2)'s siginfo has no value: print it only for queued signals.
static void show_info(const char *what, int value) {
    printf("%s: sig %d code %d pid is me %d uid %d", what, got, last.si_code,
           last.si_pid == getpid(), last.si_uid);
    if (value) printf(" value %d", last.si_value.sival_int);
    printf("\n");
    fflush(stdout);
    got = 0;
}

// The same signals read through a signalfd: ssi_code, ssi_pid, ssi_uid, ssi_int.
static void through_signalfd(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int fd = signalfd(-1, &set, 0);
    struct signalfd_siginfo si;
    T(sigqueue(getpid(), SIGUSR2, (union sigval){.sival_int = 99}));
    T(read(fd, &si, sizeof si));
    printf("  -> signo %u code %d pid is me %d uid %u int %d\n", si.ssi_signo, si.ssi_code,
           si.ssi_pid == (unsigned)getpid(), si.ssi_uid, si.ssi_int);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        T(setresuid(1000, 1000, 1000));
        T(kill(getpid(), SIGUSR2));
        T(read(fd, &si, sizeof si));
        printf("  -> signo %u code %d pid is me %d uid %u\n", si.ssi_signo, si.ssi_code,
               si.ssi_pid == (unsigned)getpid(), si.ssi_uid);
        fflush(stdout);
        _exit(0);
    }
    wait_child(pid);
    close(fd);
    sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void queued(void) {
    struct sigaction sa = {0};
    sa.sa_sigaction = on_signal;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGRTMIN + 1, &sa, NULL);
    T(sigqueue(getpid(), SIGUSR1, (union sigval){.sival_int = 42}));
    show_info("sigqueue", 1);
    T(kill(getpid(), SIGUSR1));
    show_info("kill", 0);
    siginfo_t si = {0};
    si.si_signo = SIGRTMIN + 1;
    si.si_code = SI_QUEUE;
    si.si_pid = 12345;
    si.si_value.sival_int = 7;
    T(syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), SIGRTMIN + 1, &si));
    printf("  -> code %d claimed pid %d value %d\n", last.si_code, last.si_pid,
           last.si_value.sival_int);
    fflush(stdout);
    got = 0;
    // A kill(2)-like code is only for oneself.
    si.si_code = SI_USER;
    T(syscall(SYS_rt_sigqueueinfo, getpid(), SIGUSR1, &si));
    printf("  -> code %d\n", last.si_code);
    fflush(stdout);
    got = 0;
    pid_t pid = fork();
    if (pid == 0) {
        // The parent is root's: a user may not signal it.
        T(setresuid(1000, 1000, 1000));
        si.si_code = SI_QUEUE;
        T(syscall(SYS_rt_sigqueueinfo, getppid(), SIGUSR1, &si));
        si.si_code = SI_USER;
        T(syscall(SYS_rt_sigqueueinfo, getppid(), SIGUSR1, &si));
        T(syscall(SYS_rt_sigqueueinfo, 0, SIGUSR1, &si));
        T(syscall(SYS_rt_sigqueueinfo, getpid(), 99, &si));
        T(kill(getpid(), SIGUSR1));
        show_info("kill as user", 0);
        _exit(0);
    }
    wait_child(pid);
}

static void *idle_thread(void *arg) {
    pause();
    return arg;
}

// unshare(2) in a lone thread: nothing to part, so it succeeds; with a second thread the
// thread group cannot be left.
static void unsharing(void) {
    T(unshare(0));
    T(unshare(CLONE_FS | CLONE_FILES));
    T(unshare(0x1));
    int id = semget(IPC_PRIVATE, 1, 0600);
    struct sembuf up = {.sem_num = 0, .sem_op = 2, .sem_flg = SEM_UNDO};
    T(semop(id, &up, 1));
    T(semctl(id, 0, GETVAL));
    // Linux applies the undo list here (exit_sem), but only when no other thread shares
    // it: qemu-user's own helper threads do, so the value after is not compared.
    T(unshare(CLONE_SYSVSEM));
    semctl(id, 0, IPC_RMID);
    pthread_t t;
    pthread_create(&t, NULL, idle_thread, NULL);
    T(unshare(CLONE_THREAD));
    T(unshare(CLONE_VM));
}

int main(int argc, char **argv) {
    enter(argc, argv);
    personalities();
    cpus();
    barriers();
    locks();
    queued();
    through_signalfd();
    unsharing();
    return 0;
}
