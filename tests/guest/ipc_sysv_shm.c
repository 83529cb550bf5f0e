// System V shared memory as PostgreSQL, ipcs and MIT-SHM clients use it: segments by key
// and private, attaches shared with a forked child, nattch, IPC_RMID while attached,
// read-only attaches, and the errors. Prints only what every Linux prints (no ids, which
// come from the machine's IPC namespace). Compared against the qemu chroot reference.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/shm.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err(long r) { return r == -1 ? strerrorname_np(errno) : "ok"; }

static unsigned long nattch(int id) {
    struct shmid_ds ds;
    if (shmctl(id, IPC_STAT, &ds)) return 999;
    return ds.shm_nattch;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const key_t key = 0x5f1c5e01;
    // A segment left by an earlier run of this test on the same machine goes first.
    int old = shmget(key, 0, 0);
    if (old >= 0) shmctl(old, IPC_RMID, NULL);

    printf("missing key: %s\n", err(shmget(key, 4096, 0600)));
    int id = shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0640);
    printf("create: %s\n", err(id));
    printf("create again exclusive: %s\n", err(shmget(key, 10000, IPC_CREAT | IPC_EXCL | 0640)));
    printf("open by key is the same: %d\n", shmget(key, 100, 0) == id);
    printf("open larger: %s\n", err(shmget(key, 20000, 0)));
    printf("size 0 private: %s\n", err(shmget(IPC_PRIVATE, 0, 0600)));

    struct shmid_ds ds;
    shmctl(id, IPC_STAT, &ds);
    printf("stat: size %zu mode %o nattch %lu uid %u cpid is me %d\n", (size_t)ds.shm_segsz,
           (unsigned)ds.shm_perm.mode, (unsigned long)ds.shm_nattch, (unsigned)ds.shm_perm.uid,
           ds.shm_cpid == getpid());

    char *a = shmat(id, NULL, 0);
    printf("attach: %s page aligned %d\n", a == (void *)-1 ? err(-1) : "ok",
           ((unsigned long)a & 4095) == 0);
    printf("fresh segment is zero: %d\n", a[0] == 0 && a[9999] == 0);
    strcpy(a, "written by the parent");
    char *b = shmat(id, NULL, SHM_RDONLY);
    printf("second attach sees it: %s\n", b);
    printf("nattch: %lu\n", nattch(id));
    shmctl(id, IPC_STAT, &ds);
    printf("lpid is me %d, atime set %d\n", ds.shm_lpid == getpid(), ds.shm_atime != 0);

    pid_t child = fork();
    if (child == 0) {
        // The child inherits both attaches and writes through the first.
        printf("child nattch: %lu\n", nattch(id));
        strcpy(a, "written by the child");
        shmdt(b);
        _exit(0);
    }
    int status;
    waitpid(child, &status, 0);
    printf("parent sees: %s\n", a);
    printf("nattch after child: %lu\n", nattch(id));

    // A write through a read-only attach is a SIGSEGV.
    child = fork();
    if (child == 0) {
        b[0] = 'x';
        _exit(0);
    }
    waitpid(child, &status, 0);
    printf("read-only write: %s\n", WIFSIGNALED(status) ? strsignal(WTERMSIG(status)) : "no signal");

    printf("detach middle: %s\n", err(shmdt(a + 4096)));
    printf("detach read-only: %s\n", err(shmdt(b)));
    printf("detach again: %s\n", err(shmdt(b)));
    printf("nattch: %lu\n", nattch(id));

    // Attaching at a given address (where the first attach was, free again), rounded
    // with SHM_RND; unaligned without it.
    char *want = a + 123;
    shmdt(a);
    printf("unaligned: %s\n", err((long)shmat(id, want, 0)));
    char *c = shmat(id, want, SHM_RND);
    printf("SHM_RND: %s at rounded %d\n", c == (void *)-1 ? err(-1) : "ok",
           c == (char *)((unsigned long)want & ~4095UL));
    printf("still there: %s\n", c);

    // Removed while attached: still usable, key private, gone with the last detach.
    printf("rmid: %s\n", err(shmctl(id, IPC_RMID, NULL)));
    shmctl(id, IPC_STAT, &ds);
    printf("after rmid: key %d dest %d nattch %lu\n", ds.shm_perm.__key,
           (ds.shm_perm.mode & 01000) != 0, (unsigned long)ds.shm_nattch);
    printf("key is free: %s\n", err(shmget(key, 4096, 0600)));
    strcpy(c, "still writable");
    printf("%s\n", c);
    shmdt(c);
    printf("stat after last detach: %s\n", err(shmctl(id, IPC_STAT, &ds)));
    printf("attach removed: %s\n", err((long)shmat(id, NULL, 0)));

    // Permissions: a 0600 segment of root's is not another user's.
    int priv = shmget(IPC_PRIVATE, 4096, 0600);
    int pub = shmget(IPC_PRIVATE, 4096, 0644);
    child = fork();
    if (child == 0) {
        if (setgid(65534) || setuid(65534)) _exit(3);
        printf("other user attach 0600: %s\n", err((long)shmat(priv, NULL, 0)));
        printf("other user read-only 0644: %s\n", err((long)shmat(pub, NULL, SHM_RDONLY)));
        printf("other user read-write 0644: %s\n", err((long)shmat(pub, NULL, 0)));
        printf("other user stat 0600: %s\n", err(shmctl(priv, IPC_STAT, &ds)));
        printf("other user rmid: %s\n", err(shmctl(pub, IPC_RMID, NULL)));
        _exit(0);
    }
    waitpid(child, &status, 0);
    ds.shm_perm.mode = 0604;
    printf("set: %s\n", err(shmctl(pub, IPC_SET, &ds)));
    shmctl(pub, IPC_STAT, &ds);
    printf("mode now %o\n", (unsigned)ds.shm_perm.mode & 0777);
    shmctl(priv, IPC_RMID, NULL);
    shmctl(pub, IPC_RMID, NULL);
    printf("bad id: %s\n", err(shmctl(-1, IPC_STAT, &ds)));
    printf("bad cmd: %s\n", err(shmctl(pub, 99, &ds)));
    return 0;
}
