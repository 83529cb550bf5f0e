// clone3: a fork-like child, CLONE_CLEAR_SIGHAND, the argument checks, and threads and
// posix_spawn (glibc creates both with clone3 when the kernel has it). qemu-user 7.2 has
// no clone3 (ENOSYS), so components/kernel/tests/fs_syscalls.rs checks this program's
// output against what Linux documents rather than against the reference.
#include "fs_check.h"
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/wait.h>

static long clone3(struct clone_args *ca, size_t size) { return syscall(SYS_clone3, ca, size); }

static void wait_child(pid_t pid) {
    int status;
    waitpid(pid, &status, 0);
    printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    fflush(stdout);
}

static void on_usr1(int sig) { (void)sig; }

static void *thread(void *arg) { return (char *)arg + 1; }

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "child") == 0) return 5;
    struct clone_args ca = {0};
    ca.exit_signal = SIGCHLD;
    pid_t pid = clone3(&ca, sizeof ca);
    if (pid == 0) _exit(7);
    wait_child(pid);

    signal(SIGUSR1, on_usr1);
    signal(SIGUSR2, SIG_IGN);
    ca.flags = CLONE_CLEAR_SIGHAND;
    pid = clone3(&ca, sizeof ca);
    if (pid == 0) {
        struct sigaction a1, a2;
        sigaction(SIGUSR1, NULL, &a1);
        sigaction(SIGUSR2, NULL, &a2);
        _exit((a1.sa_handler == SIG_DFL) * 10 + (a2.sa_handler == SIG_IGN));
    }
    wait_child(pid);

    char big[4200] = {0};
    memcpy(big, &(struct clone_args){.exit_signal = SIGCHLD}, sizeof ca);
    T(clone3((struct clone_args *)big, 32));
    T(clone3((struct clone_args *)big, 4097));
    big[100] = 1;
    T(clone3((struct clone_args *)big, 128));
    struct clone_args bad = {.exit_signal = SIGCHLD, .stack = 0x1000};
    T(clone3(&bad, sizeof bad));
    bad = (struct clone_args){.exit_signal = 200};
    T(clone3(&bad, sizeof bad));
    bad = (struct clone_args){.flags = CLONE_CLEAR_SIGHAND | CLONE_SIGHAND | CLONE_VM,
                              .exit_signal = SIGCHLD};
    T(clone3(&bad, sizeof bad));
    bad = (struct clone_args){.flags = SIGCHLD};
    T(clone3(&bad, sizeof bad));

    // glibc's threads and posix_spawn.
    pthread_t t;
    void *ret;
    T(pthread_create(&t, NULL, thread, (void *)41));
    T(pthread_join(t, &ret));
    printf("thread returned %ld\n", (long)ret);
    int err = posix_spawn(&pid, argv[0], NULL, NULL, (char *[]){argv[0], "child", NULL},
                          NULL);
    printf("posix_spawn = %d\n", err);
    if (err == 0) wait_child(pid);
    return 0;
}
