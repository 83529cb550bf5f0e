// ipc_shared_mem: MAP_SHARED memory between a process and its forked children. Anonymous
// and file-backed shared mappings are seen by both sides (MAP_PRIVATE ones are not);
// process-shared futexes, mutexes and semaphores (sem_init and sem_open, as Python's
// multiprocessing uses) work across processes; msync and munmap write a shared file
// mapping back to the file.
#include "fs_check.h"
#include <linux/futex.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>

static void nap(int ms) {
    struct timespec ts = {0, ms * 1000000L};
    nanosleep(&ts, 0);
}

static void reap(pid_t pid) {
    int st;
    waitpid(pid, &st, 0);
    printf("child exit %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : -WTERMSIG(st));
}

static long futex(uint32_t *addr, int op, uint32_t val) {
    return syscall(SYS_futex, addr, op, val, 0, 0, 0);
}

struct shared {
    uint32_t word;
    uint32_t flag;
    long counter;
    pthread_mutex_t lock;
    sem_t sem;
    char text[64];
};

int main(int argc, char **argv) {
    enter(argc, argv);
    long pg = sysconf(_SC_PAGESIZE);

    puts("-- anonymous MAP_SHARED and MAP_PRIVATE across fork");
    struct shared *s = mmap(0, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    char *priv = mmap(0, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    T(s != MAP_FAILED && priv != MAP_FAILED);
    strcpy(s->text, "from parent");
    strcpy(priv, "private parent");
    char *far = (char *)s + pg + 100; // the second page
    strcpy(far, "page two");
    pid_t pid = fork();
    if (pid == 0) {
        printf("child sees \"%s\" \"%s\" \"%s\"\n", s->text, priv, far);
        fflush(stdout);
        strcpy(s->text, "from child");
        strcpy(priv, "private child");
        strcpy(far, "page two, child");
        _exit(3);
    }
    reap(pid);
    printf("parent sees \"%s\" \"%s\" \"%s\"\n", s->text, priv, far);

    puts("-- a shared futex between processes");
    s->word = 0;
    pid = fork();
    if (pid == 0) {
        while (__atomic_load_n(&s->word, __ATOMIC_SEQ_CST) == 0)
            futex(&s->word, FUTEX_WAIT, 0);
        _exit(s->word);
    }
    nap(50);
    __atomic_store_n(&s->word, 9, __ATOMIC_SEQ_CST);
    long woken = futex(&s->word, FUTEX_WAKE, 1);
    reap(pid);
    printf("woke %ld\n", woken);
    // FUTEX_PRIVATE_FLAG keeps waiters per process: a private wake finds none.
    pid = fork();
    if (pid == 0) {
        struct timespec t = {0, 200 * 1000000L};
        long r = syscall(SYS_futex, &s->flag, FUTEX_WAIT, 0, &t, 0, 0);
        _exit(r == -1 && errno == ETIMEDOUT ? 1 : 2);
    }
    nap(50);
    T(futex(&s->flag, FUTEX_WAKE_PRIVATE, 1));
    reap(pid);

    puts("-- a process-shared mutex and semaphore");
    pthread_mutexattr_t ma;
    pthread_mutexattr_init(&ma);
    pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
    T(pthread_mutex_init(&s->lock, &ma));
    T(sem_init(&s->sem, 1, 0));
    s->counter = 0;
    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        kids[k] = fork();
        if (kids[k] == 0) {
            for (int i = 0; i < 20000; i++) {
                pthread_mutex_lock(&s->lock);
                s->counter++;
                pthread_mutex_unlock(&s->lock);
            }
            sem_post(&s->sem);
            _exit(0);
        }
    }
    for (int i = 0; i < 20000; i++) {
        pthread_mutex_lock(&s->lock);
        s->counter++;
        pthread_mutex_unlock(&s->lock);
    }
    T(sem_wait(&s->sem));
    T(sem_wait(&s->sem));
    reap(kids[0]);
    reap(kids[1]);
    printf("counter %ld\n", s->counter);

    puts("-- a named semaphore (sem_open: a MAP_SHARED file in /dev/shm)");
    sem_unlink("/friscy-test");
    sem_t *named = sem_open("/friscy-test", O_CREAT | O_EXCL, 0600, 0);
    T(named != SEM_FAILED);
    pid = fork();
    if (pid == 0) {
        sem_t *again = sem_open("/friscy-test", 0);
        nap(30);
        sem_post(again);
        sem_post(named);
        _exit(0);
    }
    T(sem_wait(named));
    T(sem_wait(named));
    int v;
    sem_getvalue(named, &v);
    printf("value %d\n", v);
    reap(pid);
    T(sem_unlink("/friscy-test"));

    puts("-- a shared file mapping");
    int fd;
    T(fd = open("f", O_RDWR | O_CREAT, 0644));
    T(write(fd, "0123456789", 10));
    char *m = mmap(0, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    T(m != MAP_FAILED);
    printf("mapped \"%.10s\"\n", m);
    pid = fork();
    if (pid == 0) {
        memcpy(m, "CHILD", 5);
        _exit(0);
    }
    reap(pid);
    printf("parent sees \"%.10s\"\n", m);
    T(msync(m, pg, MS_SYNC));
    char buf[32] = {0};
    T(pread(fd, buf, sizeof buf, 0));
    printf("file \"%s\"\n", buf);
    m[7] = '!';
    T(munmap(m, pg));
    memset(buf, 0, sizeof buf);
    T(pread(fd, buf, sizeof buf, 0));
    printf("file \"%s\"\n", buf);
    struct stat st;
    T(fstat(fd, &st));
    printf("size %lld\n", (long long)st.st_size);
    // A read-only shared mapping in the child sees the parent's later writes.
    char *w = mmap(0, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    pid = fork();
    if (pid == 0) {
        char *r = mmap(0, pg, PROT_READ, MAP_SHARED, fd, 0);
        nap(50);
        _exit(r[0]);
    }
    w[0] = 'Z';
    reap(pid);
    T(munmap(w, pg));
    T(close(fd));
    T(unlink("f"));
    return 0;
}
