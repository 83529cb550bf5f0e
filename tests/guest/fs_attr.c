// fs_attr: chmod, chown (and the set-id bits it clears), utimensat, truncate, fallocate.
#include "fs_check.h"
#include <sys/time.h>

static void times_of(const char *path) {
    struct stat s;
    lstat(path, &s);
    printf("%s: atime %lld.%09ld mtime %lld.%09ld\n", path, (long long)s.st_atim.tv_sec,
           s.st_atim.tv_nsec, (long long)s.st_mtim.tv_sec, s.st_mtim.tv_nsec);
}

int main(int argc, char **argv) {
    enter(argc, argv);
    int fd, ro;
    T(fd = open("f", O_CREAT | O_RDWR, 0644));
    T(write(fd, "hello world", 11));
    T(fchmod(fd, 04755));
    show("f");
    T(fchown(fd, -1, -1)); // clears set-user-ID, even as a no-op
    show("f");
    T(chmod("f", 02755));
    T(fchownat(AT_FDCWD, "f", 0, 0, 0)); // set-group-ID with g+x goes too
    show("f");
    T(chmod("f", 02745));
    T(chown("f", -1, -1)); // without g+x it stays
    show("f");
    T(fchmodat(AT_FDCWD, "missing", 0600, 0));
    T(fchownat(AT_FDCWD, "f", -1, -1, 0x8000));
    T(symlink("f", "l"));
    T(fchownat(AT_FDCWD, "l", 0, 0, AT_SYMLINK_NOFOLLOW));
    show("l");
    T(fchownat(fd, "", 0, 0, AT_EMPTY_PATH));
    T(fchmod(99, 0600));
    int p;
    T(p = open("f", O_PATH));
    T(fchmod(p, 0600));
    T(fchownat(p, "", 0, 0, AT_EMPTY_PATH));
    mkdir("d", 0700);
    T(chmod("d", 01777));
    show("d");

    struct timespec ts[2] = {{1000, 500}, {2000, 600}};
    T(utimensat(AT_FDCWD, "f", ts, 0));
    times_of("f");
    ts[0].tv_nsec = UTIME_OMIT;
    ts[1].tv_sec = 3000;
    T(futimens(fd, ts));
    times_of("f");
    ts[1].tv_nsec = 1000000000;
    T(utimensat(AT_FDCWD, "f", ts, 0));
    ts[1].tv_nsec = UTIME_OMIT;
    T(utimensat(AT_FDCWD, "missing", ts, 0)); // both omitted: the path is not looked at
    T(utimensat(AT_FDCWD, "f", NULL, 0x8000));
    T(syscall(SYS_utimensat, fd, NULL, NULL, AT_SYMLINK_NOFOLLOW));
    ts[0].tv_sec = 5;
    ts[0].tv_nsec = 0;
    ts[1].tv_sec = 6;
    ts[1].tv_nsec = 0;
    T(utimensat(AT_FDCWD, "l", ts, AT_SYMLINK_NOFOLLOW));
    times_of("l");
    times_of("f");

    T(ftruncate(fd, 5));
    show("f");
    T(truncate("f", 100));
    show("f");
    T(truncate(".", 0));
    T(truncate("missing", 0));
    T(ftruncate(fd, -1));
    T(ro = open("f", O_RDONLY));
    T(ftruncate(ro, 1));
    T(ftruncate(99, 1));
    T(ftruncate(p, 1));

    T(fallocate(fd, 0, 0, 200));
    show("f");
    T(fallocate(fd, FALLOC_FL_KEEP_SIZE, 0, 500));
    show("f");
    T(pwrite(fd, "abcdefgh", 8, 0));
    T(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 2, 3));
    char buf[9] = {0};
    T(pread(fd, buf, 8, 0));
    for (int i = 0; i < 8; i++)
        printf("%02x", buf[i]);
    printf("\n");
    T(fallocate(fd, FALLOC_FL_PUNCH_HOLE, 0, 5));
    T(fallocate(ro, 0, 0, 1));
    T(fallocate(fd, 0, -1, 1));
    T(fallocate(fd, 0, 0, 0));
    T(fallocate(fd, FALLOC_FL_ZERO_RANGE, 190, 20));
    show("f");
    int dfd;
    T(dfd = open("d", O_RDONLY | O_DIRECTORY));
    T(fallocate(dfd, 0, 0, 1));
    T(fsync(fd));
    T(fdatasync(fd));
    T(syncfs(fd));
    T(fsync(99));
    return 0;
}
