// A thread woken by a futex gets to run while its waker keeps working, as on Linux
// (another CPU, or wakeup preemption on one). The waker opens a window (state GO), wakes
// the waiter, works for a while without a syscall, then closes the window: the waiter
// must see GO at least once. Go's stop-the-world loop beside a locked thread's handoff
// (runtime test LockOSThreadTemplateThreadRace) has this shape and never ended without it.
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

enum { STOP, GO, DONE };
static _Atomic int state = STOP;
static _Atomic int seen;

static void futex(_Atomic int *addr, int op, int val) {
    syscall(SYS_futex, addr, op | FUTEX_PRIVATE_FLAG, val, NULL, NULL, 0);
}

static void *waiter(void *arg) {
    (void)arg;
    for (;;) {
        int s = atomic_load(&state);
        if (s == DONE) return NULL;
        if (s == GO) {
            atomic_fetch_add(&seen, 1);
            // Wait for the window to close before counting again.
            while (atomic_load(&state) == GO) futex(&state, FUTEX_WAIT, GO);
            continue;
        }
        futex(&state, FUTEX_WAIT, s);
    }
}

int main(void) {
    pthread_t t;
    pthread_create(&t, NULL, waiter, NULL);
    usleep(10000);
    for (int i = 0; i < 20; i++) {
        atomic_store(&state, GO);
        futex(&state, FUTEX_WAKE, 1);
        // Work without syscalls (the vDSO-less clock_gettime is one, so count loops).
        volatile unsigned long x = 0;
        for (unsigned long j = 0; j < 100000; j++) x += j;
        atomic_store(&state, STOP);
        futex(&state, FUTEX_WAKE, 1);
        usleep(1000);
    }
    atomic_store(&state, DONE);
    futex(&state, FUTEX_WAKE, 1);
    pthread_join(t, NULL);
    printf("the woken thread ran while its waker worked: %s\n", seen > 0 ? "yes" : "no");
    return 0;
}
