// Credentials are per thread, as on Linux: setfsuid and the raw set*id syscalls change the
// calling thread alone; glibc's setuid family changes every thread (it runs the syscall
// in each one, signalling them with SIGSETXID). Run as root.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/fsuid.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static const char *path = "/tmp/creds_threads.secret";

static const char *try_open(void) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return strerrorname_np(errno);
    close(fd);
    return "ok";
}

static void ids(const char *who) {
    uid_t r, e, s;
    gid_t gr, ge, gs;
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    printf("%s: uid %u %u %u gid %u %u %u fsuid %d\n", who, r, e, s, gr, ge, gs,
           setfsuid(-1));
}

static void *fs_thread(void *arg) {
    (void)arg;
    int old = setfsuid(65534);
    printf("thread: setfsuid returned %d, now %d\n", old, setfsuid(-1));
    printf("thread: open as nobody: %s\n", try_open());
    return NULL;
}

static void *raw_thread(void *arg) {
    (void)arg;
    // The raw syscall, not glibc's wrapper: this thread only.
    printf("thread: raw setresgid: %ld\n", syscall(SYS_setresgid, 100, 100, 100));
    ids("thread after raw setresgid");
    return NULL;
}

static void *ids_thread(void *who) {
    ids(who);
    return NULL;
}

static pthread_barrier_t barrier;

static void *waiting_thread(void *arg) {
    (void)arg;
    pthread_barrier_wait(&barrier);
    // The main thread called glibc's setresgid meanwhile.
    ids("other thread after glibc setresgid");
    pthread_barrier_wait(&barrier);
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    close(fd);
    ids("main");
    pthread_t t;
    pthread_create(&t, NULL, fs_thread, NULL);
    pthread_join(t, NULL);
    printf("main: open after the thread: %s\n", try_open());
    ids("main");

    pthread_create(&t, NULL, raw_thread, NULL);
    pthread_join(t, NULL);
    ids("main after the raw thread");

    pthread_barrier_init(&barrier, NULL, 2);
    pthread_create(&t, NULL, waiting_thread, NULL);
    printf("main: glibc setresgid: %d\n", setresgid(200, 200, 200));
    pthread_barrier_wait(&barrier);
    pthread_barrier_wait(&barrier);
    pthread_join(t, NULL);
    ids("main after glibc setresgid");

    // A thread made after a change starts with its maker's credentials.
    setfsuid(65534);
    pthread_create(&t, NULL, ids_thread, "new thread of an fsuid-65534 maker");
    pthread_join(t, NULL);
    setfsuid(0);
    unlink(path);
    return 0;
}
