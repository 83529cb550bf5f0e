// fs_locks: fcntl record locks (process-owned) and OFD locks (description-owned), flock.
#include "fs_check.h"
#include <sys/file.h>

static long lk(int fd, int cmd, short type, short whence, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = whence, .l_start = start, .l_len = len};
    long r = fcntl(fd, cmd, &fl);
    if ((cmd == F_GETLK || cmd == F_OFD_GETLK) && r == 0)
        printf("  -> type %d whence %d start %lld len %lld pid %d\n", fl.l_type, fl.l_whence,
               (long long)fl.l_start, (long long)fl.l_len, fl.l_pid == getpid() ? 1 : fl.l_pid);
    return r;
}

int main(int argc, char **argv) {
    enter(argc, argv);
    int a, b, w, c;
    T(a = open("f", O_CREAT | O_RDWR, 0644));
    T(write(a, "0123456789", 10));
    T(b = open("f", O_RDWR));
    T(w = open("f", O_WRONLY));
    T(lk(a, F_SETLK, F_WRLCK, SEEK_SET, 0, 10));
    T(lk(b, F_SETLK, F_WRLCK, SEEK_SET, 5, 10)); // the same process: no conflict
    T(lk(b, F_GETLK, F_WRLCK, SEEK_SET, 0, 0));
    T(lk(b, F_OFD_GETLK, F_RDLCK, SEEK_SET, 0, 0)); // a record lock of ours conflicts
    T(lk(b, F_OFD_SETLK, F_RDLCK, SEEK_SET, 0, 1));
    T(lk(a, F_SETLK, F_UNLCK, SEEK_SET, 0, 0));
    T(lk(a, F_OFD_SETLK, F_WRLCK, SEEK_SET, 2, 3));
    T(lk(b, F_OFD_SETLK, F_RDLCK, SEEK_SET, 0, 3));
    T(lk(b, F_OFD_SETLK, F_RDLCK, SEEK_SET, 5, 0));
    T(lk(b, F_OFD_GETLK, F_WRLCK, SEEK_SET, 0, 0));
    T(lk(a, F_OFD_GETLK, F_WRLCK, SEEK_END, -6, 2));
    T(lk(b, F_GETLK, F_RDLCK, SEEK_CUR, -8, -2));
    T(lk(w, F_SETLK, F_RDLCK, SEEK_SET, 0, 1));
    T(lk(a, F_SETLK, 7, SEEK_SET, 0, 1));
    T(lk(a, F_SETLK, F_RDLCK, 9, 0, 1));
    T(lk(a, F_SETLK, F_RDLCK, SEEK_SET, -1, 1));
    T(lk(a, F_GETLK, F_UNLCK, SEEK_SET, 0, 1));
    struct flock fl = {.l_type = F_RDLCK, .l_pid = 5};
    T(fcntl(a, F_OFD_SETLK, &fl));
    T(lk(99, F_SETLK, F_RDLCK, SEEK_SET, 0, 1));
    // Closing any descriptor of the file drops the process's record locks.
    T(lk(b, F_OFD_SETLK, F_UNLCK, SEEK_SET, 0, 0));
    T(lk(w, F_SETLK, F_WRLCK, SEEK_SET, 20, 5));
    T(lk(b, F_OFD_GETLK, F_WRLCK, SEEK_SET, 20, 1));
    T(c = open("f", O_RDONLY));
    T(close(c));
    T(lk(b, F_OFD_GETLK, F_WRLCK, SEEK_SET, 20, 1));
    // An OFD lock lives as long as its description: dup keeps it, the last close ends it.
    int d;
    T(d = dup(a));
    T(close(a));
    T(lk(b, F_OFD_GETLK, F_WRLCK, SEEK_SET, 2, 1));
    T(close(d));
    T(lk(b, F_OFD_GETLK, F_WRLCK, SEEK_SET, 2, 1));

    T(flock(b, LOCK_EX | LOCK_NB));
    T(c = open("f", O_RDONLY));
    T(flock(c, LOCK_SH | LOCK_NB));
    T(flock(b, LOCK_SH | LOCK_NB));
    T(flock(c, LOCK_SH | LOCK_NB));
    T(flock(c, LOCK_EX | LOCK_NB));
    T(flock(b, LOCK_UN));
    T(flock(c, LOCK_EX | LOCK_NB));
    T(flock(c, 0));
    T(lk(b, F_OFD_SETLK, F_WRLCK, SEEK_SET, 0, 0)); // flock and record locks are separate
    return 0;
}
