/* Random syscalls with random arguments, in forked children: whatever the child does to
 * itself, the kernel must stay up and report each child's end to the parent.
 *   syscall_fuzz [children] [calls-per-child] [seed] */
#define _GNU_SOURCE
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static uint64_t rng;
static uint64_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

static char scratch[1 << 16];

/* An argument: small numbers, fds, flags, pointers into a scratch buffer or nowhere. */
static long arg(void) {
    switch (next() % 8) {
    case 0: return 0;
    case 1: return (long)(next() % 8);
    case 2: return -(long)(next() % 4) - 1;
    case 3: return (long)(scratch + next() % (sizeof scratch - 256));
    case 4: return (long)next();
    case 5: return (long)(next() % 4096);
    case 6: return (long)(next() & 0xffffffff);
    default: return (long)(next() % 64) << (next() % 48);
    }
}

static int excluded(long nr) {
    switch (nr) {
    /* Ending or replacing the child is legitimate but makes the run short. */
    case SYS_exit: case SYS_exit_group: case SYS_execve: case SYS_execveat:
    /* Signals to other processes could kill the parent (kill(0 or -1, ...)). */
    case SYS_kill: case SYS_tkill: case SYS_tgkill: case SYS_rt_sigqueueinfo:
    case SYS_rt_tgsigqueueinfo: case SYS_pidfd_send_signal:
    /* Unbounded process creation. */
    case SYS_clone: case SYS_clone3:
    /* A garbage signal frame kills the child at once, which would end most runs early. */
    case SYS_rt_sigreturn:
        return 1;
    }
    return 0;
}

int main(int argc, char **argv) {
    int children = argc > 1 ? atoi(argv[1]) : 8;
    int calls = argc > 2 ? atoi(argv[2]) : 2000;
    uint64_t seed = argc > 3 ? strtoull(argv[3], 0, 0) : 1;
    int ended = 0, killed = 0;
    for (int c = 0; c < children; c++) {
        pid_t pid = fork();
        if (pid == 0) {
            rng = seed * 0x9e3779b97f4a7c15ULL + (uint64_t)c + 1;
            for (int i = 0; i < calls; i++) {
                long nr = (long)(next() % 460);
                if (excluded(nr))
                    continue;
                long a0 = arg(), a1 = arg(), a2 = arg(), a3 = arg(), a4 = arg(), a5 = arg();
                /* Memory calls aim at the scratch buffer (a page of it), not at the
                 * child's own code and stack, so that it lives long enough to try more. */
                if (nr == SYS_munmap || nr == SYS_mprotect || nr == SYS_mremap ||
                    nr == SYS_madvise || nr == SYS_mmap || nr == SYS_brk)
                    a0 = ((long)scratch + 4096 + (long)(next() % 8) * 4096) & ~4095L;
                syscall(nr, a0, a1, a2, a3, a4, a5);
            }
            _exit(0);
        }
        /* A child that blocks forever (pause-like calls) is killed after a while. */
        int st = 0;
        for (int waited = 0; waitpid(pid, &st, WNOHANG) == 0; waited++) {
            /* (A child's own status is whatever its calls did to it; only its end matters.) */
            if (waited == 200)
                kill(pid, SIGKILL);
            struct timespec ts = {0, 10000000};
            nanosleep(&ts, NULL);
        }
        ended++;
        if (WIFSIGNALED(st))
            killed++;
    }
    fprintf(stderr, "%d children died of a signal\n", killed);
    printf("%d of %d children ended and were reaped\n", ended, children);
    return 0;
}
