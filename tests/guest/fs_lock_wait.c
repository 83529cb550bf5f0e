// fs_lock_wait: blocking lock requests (F_SETLKW, F_OFD_SETLKW, flock without LOCK_NB) wait
// until another process releases the lock. With "exec" after the directory (friscy only:
// Linux would hang in the first part), a wait nobody else could end, and locks released by
// execve's close-on-exec.
#include "fs_check.h"
#include <sched.h>
#include <sys/file.h>
#include <sys/wait.h>

static long lk(int fd, int cmd, short type, off_t start, off_t len) {
    struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
    long r = fcntl(fd, cmd, &fl);
    if ((cmd == F_GETLK || cmd == F_OFD_GETLK) && r == 0)
        printf("  -> type %d start %lld len %lld\n", fl.l_type, (long long)fl.l_start,
               (long long)fl.l_len);
    return r;
}

// Give the child time to block. Not needed for the output, which is the same whether or
// not it blocked before the unlock (the parent changes the file before unlocking); no
// sleep, because the native test host's clock stands still.
static void pause_a_little(void) {
    for (int i = 0; i < 20; i++)
        sched_yield();
}

static char first_byte(int fd) {
    char c = '?';
    pread(fd, &c, 1, 0);
    return c;
}

// The child blocks in `cmd` on the lock the parent holds; the parent changes the file
// before it unlocks, so the child sees the change only if it really waited.
static void waits(const char *what, int cmd, char mark) {
    int a, ready[2];
    char c;
    T(a = open("f", O_RDWR));
    if (cmd == 0)
        T(flock(a, LOCK_EX));
    else
        T(lk(a, cmd == F_SETLKW ? F_SETLK : F_OFD_SETLK, F_WRLCK, 0, 10));
    T(pipe(ready));
    pid_t pid = fork();
    if (pid == 0) {
        int b = open("f", O_RDWR);
        write(ready[1], "r", 1);
        long r = cmd == 0 ? flock(b, LOCK_SH) : lk(b, cmd, F_RDLCK, 0, 1);
        // Reported through the exit status, so the output's order is the parent's.
        _exit(r == 0 ? first_byte(b) : errno);
    }
    T(read(ready[0], &c, 1));
    pause_a_little();
    T(pwrite(a, &mark, 1, 0));
    if (cmd == 0)
        T(flock(a, LOCK_UN));
    else
        T(lk(a, cmd == F_SETLKW ? F_SETLK : F_OFD_SETLK, F_UNLCK, 0, 0));
    int status;
    T(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
    int got = WEXITSTATUS(status);
    if (got >= 'A')
        printf("child %s: got it, saw '%c'\n", what, got);
    else
        printf("child %s: -1 %s\n", what, strerrorname_np(got));
    close(a);
    close(ready[0]);
    close(ready[1]);
}

int main(int argc, char **argv) {
    if (argc > 2 && strcmp(argv[2], "after") == 0) {
        // After execve: the close-on-exec descriptor's locks are gone.
        int c;
        T(c = open("f", O_RDWR));
        T(flock(c, LOCK_EX | LOCK_NB));
        pid_t pid = fork();
        if (pid == 0) {
            // Another process: a record lock of the exec'd one would show here.
            T(lk(c, F_GETLK, F_WRLCK, 0, 0));
            T(lk(c, F_OFD_GETLK, F_WRLCK, 0, 0));
            _exit(0);
        }
        waitpid(pid, NULL, 0);
        return 0;
    }
    enter(argc, argv);
    int a;
    T(a = open("f", O_CREAT | O_RDWR, 0644));
    T(write(a, "0123456789", 10));
    close(a);
    waits("F_SETLKW", F_SETLKW, 'P');
    waits("F_OFD_SETLKW", F_OFD_SETLKW, 'O');
    waits("flock", 0, 'F');
    if (argc > 2 && strcmp(argv[2], "exec") == 0) {
        // friscy only (Linux would hang): a lock only this very thread could release.
        int b, c;
        T(b = open("f", O_RDWR));
        T(c = open("f", O_RDWR));
        T(flock(b, LOCK_EX));
        T(flock(c, LOCK_EX));
        T(lk(c, F_OFD_SETLK, F_WRLCK, 0, 1));
        T(lk(b, F_OFD_SETLKW, F_WRLCK, 0, 1));
        close(b);
        close(c);
        // Locks through close-on-exec descriptors, then execve: every one of them goes.
        int x, y;
        T(x = open("f", O_RDWR | O_CLOEXEC));
        T(y = open("f", O_RDWR | O_CLOEXEC));
        T(flock(x, LOCK_EX));
        T(lk(x, F_SETLK, F_WRLCK, 0, 5));
        T(lk(y, F_OFD_SETLK, F_WRLCK, 6, 2));
        fflush(stdout);
        execl(argv[0], argv[0], argv[1], "after", (char *)0);
        perror("execl");
        return 1;
    }
    return 0;
}
