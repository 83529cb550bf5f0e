// fs_check.h: shared by the filesystem guest programs. T(expr) prints the expression and
// its result, or -1 and the errno name, so the output can be compared line by line with
// the same binary under qemu-riscv64 (which runs it on a real Linux kernel).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static void report(const char *what, long v) {
    if (v < 0)
        printf("%s = -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s = %ld\n", what, v);
    fflush(stdout);
}
#define T(x) report(#x, (long)(x))

// The parts of lstat that do not depend on the host (no inode, device or times).
__attribute__((unused)) static void show(const char *path) {
    struct stat s;
    if (lstat(path, &s) != 0) {
        printf("lstat(%s) = -1 %s\n", path, strerrorname_np(errno));
        return;
    }
    printf("%s: mode %o size %lld nlink %ld uid %d gid %d\n", path, s.st_mode,
           (long long)s.st_size, (long)s.st_nlink, s.st_uid, s.st_gid);
}

// Make and enter the working directory given as argv[1] (a fresh path on the host under
// qemu, anywhere in the image under friscy).
__attribute__((unused)) static void enter(int argc, char **argv) {
    if (argc < 2 || mkdir(argv[1], 0755) != 0 || chdir(argv[1]) != 0) {
        perror("workdir");
        _exit(2);
    }
    umask(022);
}
