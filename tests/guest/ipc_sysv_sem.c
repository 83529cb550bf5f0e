// System V semaphores: sets by key and private, atomic multi-operation semop, blocking
// and waking across processes, IPC_NOWAIT, semtimedop's timeout, EINTR from a signal
// even with SA_RESTART, EIDRM when the set goes under a waiter, SEM_UNDO at exit,
// GETNCNT/GETZCNT, SETALL/GETALL, permissions and the errors. Prints only what every Linux
// prints (no ids). Compared against the qemu chroot reference.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/sem.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

union semun {
    int val;
    struct semid_ds *buf;
    unsigned short *array;
};

static const char *err(long r) { return r == -1 ? strerrorname_np(errno) : "ok"; }

static int op(int id, int num, int delta, int flags) {
    struct sembuf b = {.sem_num = num, .sem_op = delta, .sem_flg = flags};
    return semop(id, &b, 1);
}

static int val(int id, int num) { return semctl(id, num, GETVAL); }

static void on_alarm(int sig) { (void)sig; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const key_t key = 0x5f1c5e02;
    int old = semget(key, 0, 0);
    if (old >= 0) semctl(old, 0, IPC_RMID);

    printf("missing key: %s\n", err(semget(key, 2, 0600)));
    printf("zero counters: %s\n", err(semget(IPC_PRIVATE, 0, 0600)));
    int id = semget(key, 3, IPC_CREAT | IPC_EXCL | 0640);
    printf("create: %s\n", err(id));
    printf("create again exclusive: %s\n", err(semget(key, 3, IPC_CREAT | IPC_EXCL)));
    printf("open more counters: %s\n", err(semget(key, 4, 0)));
    printf("open is the same: %d\n", semget(key, 0, 0) == id);
    struct semid_ds ds;
    union semun arg = {.buf = &ds};
    semctl(id, 0, IPC_STAT, arg);
    printf("stat: nsems %lu mode %o otime %ld\n", (unsigned long)ds.sem_nsems,
           (unsigned)ds.sem_perm.mode & 0777, (long)ds.sem_otime);
    printf("initial: %d %d %d\n", val(id, 0), val(id, 1), val(id, 2));

    // Operations apply together or not at all.
    struct sembuf two[2] = {{0, 2, 0}, {1, -1, IPC_NOWAIT}};
    printf("all or nothing: %s, values %d %d\n", err(semop(id, two, 2)), val(id, 0), val(id, 1));
    two[1].sem_op = 0;
    printf("both: %s, values %d %d\n", err(semop(id, two, 2)), val(id, 0), val(id, 1));
    printf("getpid is me: %d\n", semctl(id, 0, GETPID) == getpid());
    printf("bad counter: %s\n", err(op(id, 7, 1, 0)));
    printf("too big: %s\n", err(op(id, 0, 32767, 0)));
    printf("no operations: %s\n", err(semop(id, two, 0)));
    printf("nowait: %s\n", err(op(id, 2, -1, IPC_NOWAIT)));

    // A child blocks until the parent posts.
    pid_t child = fork();
    if (child == 0) {
        int r = op(id, 2, -1, 0);
        printf("child woke: %s, value %d\n", err(r), val(id, 2));
        _exit(0);
    }
    usleep(200000);
    printf("waiting for increase: %d, for zero: %d\n", semctl(id, 2, GETNCNT), semctl(id, 2, GETZCNT));
    op(id, 2, 1, 0);
    int status;
    waitpid(child, &status, 0);

    // Wait-for-zero, woken by a decrement.
    child = fork();
    if (child == 0) {
        int r = op(id, 0, 0, 0);
        printf("child zero: %s\n", err(r));
        _exit(0);
    }
    usleep(200000);
    printf("waiting for zero: %d\n", semctl(id, 0, GETZCNT));
    op(id, 0, -2, 0);
    waitpid(child, &status, 0);

    // semtimedop gives up with EAGAIN.
    struct timespec t = {0, 50 * 1000 * 1000};
    struct sembuf dec = {1, -1, 0};
    printf("timed out: %s\n", err(semtimedop(id, &dec, 1, &t)));

    // A signal ends a wait with EINTR even with SA_RESTART.
    struct sigaction sa = {.sa_handler = on_alarm, .sa_flags = SA_RESTART};
    sigaction(SIGALRM, &sa, NULL);
    ualarm(50000, 0);
    printf("signal: %s\n", err(op(id, 1, -1, 0)));

    // SEM_UNDO: a process's adjustments are undone when it exits.
    child = fork();
    if (child == 0) {
        op(id, 1, 5, SEM_UNDO);
        op(id, 1, -2, SEM_UNDO);
        printf("child set: %d\n", val(id, 1));
        _exit(0);
    }
    waitpid(child, &status, 0);
    printf("after the child's exit: %d\n", val(id, 1));

    // SETALL, GETALL, SETVAL's range.
    unsigned short all[3] = {7, 8, 9};
    arg.array = all;
    printf("setall: %s\n", err(semctl(id, 0, SETALL, arg)));
    unsigned short got[3] = {0};
    arg.array = got;
    semctl(id, 0, GETALL, arg);
    printf("getall: %d %d %d\n", got[0], got[1], got[2]);
    arg.val = 40000;
    printf("setval out of range: %s\n", err(semctl(id, 0, SETVAL, arg)));
    arg.val = 3;
    printf("setval: %s %d\n", err(semctl(id, 0, SETVAL, arg)), val(id, 0));
    semctl(id, 0, IPC_STAT, (union semun){.buf = &ds});
    printf("otime set: %d\n", ds.sem_otime != 0);

    // Removed under a waiter: EIDRM.
    int gone = semget(IPC_PRIVATE, 1, 0600);
    child = fork();
    if (child == 0) {
        int r = op(gone, 0, -1, 0);
        printf("child on removed set: %s\n", err(r));
        _exit(0);
    }
    usleep(200000);
    // Printed after the child's line: the removal wakes it.
    int rmid = semctl(gone, 0, IPC_RMID);
    waitpid(child, &status, 0);
    printf("rmid: %s\n", err(rmid));
    printf("removed: %s\n", err(semctl(gone, 0, GETVAL)));

    // Permissions: another user.
    int priv = semget(IPC_PRIVATE, 1, 0600);
    int pub = semget(IPC_PRIVATE, 1, 0644);
    child = fork();
    if (child == 0) {
        if (setgid(65534) || setuid(65534)) _exit(3);
        printf("other user getval 0600: %s\n", err(semctl(priv, 0, GETVAL)));
        printf("other user getval 0644: %s\n", err(semctl(pub, 0, GETVAL)));
        printf("other user post 0644: %s\n", err(op(pub, 0, 1, 0)));
        printf("other user rmid: %s\n", err(semctl(pub, 0, IPC_RMID)));
        _exit(0);
    }
    waitpid(child, &status, 0);
    semctl(priv, 0, IPC_RMID);
    semctl(pub, 0, IPC_RMID);
    printf("rmid main: %s\n", err(semctl(id, 0, IPC_RMID)));
    printf("bad cmd: %s\n", err(semctl(id, 0, 99)));
    return 0;
}
