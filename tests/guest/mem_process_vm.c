// process_vm_readv and process_vm_writev between a parent and its child, and on the
// caller itself: scattered on both sides, a fault on the remote side partway (the count
// so far), and the errors (EINVAL, ESRCH, EFAULT). Checked against the host's own Linux
// (qemu-user 7.2 does not offer these calls), by components/kernel/tests/fs_syscalls.rs.
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *err(long r) { return r < 0 ? strerrorname_np(errno) : "ok"; }

static char buf[64] = "0123456789abcdefghijklmnopqrstuvwxyz";

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int to_parent[2], to_child[2];
    pipe(to_parent);
    pipe(to_child);
    pid_t c = fork();
    if (c == 0) {
        char x;
        write(to_parent[1], "r", 1);
        read(to_child[0], &x, 1); // the parent wrote into buf meanwhile
        printf("child sees: %.36s\n", buf);
        _exit(0);
    }
    char x;
    read(to_parent[0], &x, 1);
    memset(buf, '-', 36); // the parent's copy differs from the child's

    char a[5] = {0}, b[8] = {0};
    struct iovec local[2] = {{a, 4}, {b, 7}};
    struct iovec remote[2] = {{buf + 10, 6}, {buf + 30, 5}};
    ssize_t n = process_vm_readv(c, local, 2, remote, 2, 0);
    printf("readv: %s %zd \"%s\" \"%s\"\n", err(n), n, a, b);

    // A remote piece that faults: what came before it.
    struct iovec bad[2] = {{buf, 3}, {(void *)8, 4}};
    memset(a, 0, sizeof a);
    struct iovec one = {a, 4};
    struct iovec l7 = {b, 7};
    n = process_vm_readv(c, &l7, 1, bad, 2, 0);
    printf("readv with a bad second piece: %s %zd\n", err(n), n);
    n = process_vm_readv(c, &one, 1, &bad[1], 1, 0);
    printf("readv of a bad address: %s\n", err(n));
    printf("flags: %s\n", err(process_vm_readv(c, &one, 1, remote, 1, 1)));
    printf("no such process: %s\n", err(process_vm_readv(999999, &one, 1, remote, 1, 0)));

    // Writing into the child.
    struct iovec src = {"WRITTEN", 7};
    struct iovec dst[2] = {{buf, 3}, {buf + 20, 4}};
    n = process_vm_writev(c, &src, 1, dst, 2, 0);
    printf("writev: %s %zd\n", err(n), n);
    write(to_child[1], "w", 1);
    int st;
    waitpid(c, &st, 0);

    // Itself.
    char me[6] = {0};
    struct iovec l = {me, 5}, r = {buf + 31, 5};
    n = process_vm_readv(getpid(), &l, 1, &r, 1, 0);
    printf("own: %s %zd \"%s\"\n", err(n), n, me);
    return 0;
}
