// openat2(2): struct open_how's checks and the RESOLVE_* restrictions on the walk.
// Checked against the host's own Linux (qemu-user 7.2 does not offer openat2), by
// components/kernel/tests/fs_syscalls.rs.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int dfd;

static void try_how(const char *what, int dir, const char *path, struct open_how how, size_t size) {
    long fd = syscall(SYS_openat2, dir, path, &how, size);
    printf("%-40s %s\n", what, fd < 0 ? strerrorname_np(errno) : "ok");
    if (fd >= 0) close(fd);
}

static void try(const char *what, const char *path, unsigned long long flags, unsigned long long resolve) {
    struct open_how how = {.flags = flags, .resolve = resolve};
    if (flags & O_CREAT) how.mode = 0644;
    try_how(what, dfd, path, how, sizeof how);
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char dir[] = "/tmp/openat2.XXXXXX";
    mkdtemp(dir);
    chdir(dir);
    close(open("f", O_CREAT | O_WRONLY, 0644));
    mkdir("sub", 0755);
    close(open("sub/g", O_CREAT | O_WRONLY, 0644));
    symlink("..", "up");
    symlink("/etc", "abs");
    symlink("sub/g", "rel");
    symlink("../f", "sub/back");
    dfd = open(dir, O_PATH | O_DIRECTORY);

    // struct open_how itself.
    struct open_how plain = {.flags = O_RDONLY};
    try_how("plain", dfd, "f", plain, sizeof plain);
    try_how("size 23", dfd, "f", plain, 23);
    char big[40] = {0};
    memcpy(big, &plain, sizeof plain);
    printf("%-40s %s\n", "size 40, zero tail",
           syscall(SYS_openat2, dfd, "f", big, 40) < 0 ? strerrorname_np(errno) : "ok");
    big[30] = 1;
    printf("%-40s %s\n", "size 40, non-zero tail",
           syscall(SYS_openat2, dfd, "f", big, 40) < 0 ? strerrorname_np(errno) : "ok");
    try("unknown flag bit", "f", 0x4, 0);
    try("upper flag bits", "f", 1ULL << 40, 0);
    struct open_how moded = {.flags = O_RDONLY, .mode = 0644};
    try_how("mode without O_CREAT", dfd, "f", moded, sizeof moded);
    struct open_how badmode = {.flags = O_CREAT | O_WRONLY, .mode = 010000};
    try_how("mode beyond 07777", dfd, "new0", badmode, sizeof badmode);
    try("unknown resolve bit", "f", O_RDONLY, 0x40);
    try("BENEATH|IN_ROOT", "f", O_RDONLY, RESOLVE_BENEATH | RESOLVE_IN_ROOT);
    try("CACHED with O_CREAT", "new1", O_CREAT | O_WRONLY, RESOLVE_CACHED);
    try("CACHED", "f", O_RDONLY, RESOLVE_CACHED);

    // RESOLVE_BENEATH.
    try("beneath f", "f", O_RDONLY, RESOLVE_BENEATH);
    try("beneath sub/../f", "sub/../f", O_RDONLY, RESOLVE_BENEATH);
    try("beneath ../x", "../x", O_RDONLY, RESOLVE_BENEATH);
    try("beneath absolute", "/etc/passwd", O_RDONLY, RESOLVE_BENEATH);
    try("beneath up/f (a link to ..)", "up/f", O_RDONLY, RESOLVE_BENEATH);
    try("beneath abs (a link to /etc)", "abs", O_RDONLY, RESOLVE_BENEATH);
    try("beneath rel", "rel", O_RDONLY, RESOLVE_BENEATH);
    try("beneath sub/back", "sub/back", O_RDONLY, RESOLVE_BENEATH);
    try("beneath create sub/new", "sub/new", O_CREAT | O_WRONLY, RESOLVE_BENEATH);
    try("beneath create ../new", "../new", O_CREAT | O_WRONLY, RESOLVE_BENEATH);

    // RESOLVE_IN_ROOT.
    try("in_root /f", "/f", O_RDONLY, RESOLVE_IN_ROOT);
    try("in_root ../../f", "../../f", O_RDONLY, RESOLVE_IN_ROOT);
    try("in_root up/f", "up/f", O_RDONLY, RESOLVE_IN_ROOT);
    try("in_root abs/passwd", "abs/passwd", O_RDONLY, RESOLVE_IN_ROOT);
    try("in_root create /sub/new2", "/sub/new2", O_CREAT | O_WRONLY, RESOLVE_IN_ROOT);
    printf("%-40s %s\n", "  it is in the directory", access("sub/new2", F_OK) ? "no" : "yes");

    // RESOLVE_NO_SYMLINKS, RESOLVE_NO_MAGICLINKS.
    try("no_symlinks f", "f", O_RDONLY, RESOLVE_NO_SYMLINKS);
    try("no_symlinks rel", "rel", O_RDONLY, RESOLVE_NO_SYMLINKS);
    try("no_symlinks up/f", "up/f", O_RDONLY, RESOLVE_NO_SYMLINKS);
    try("no_symlinks rel O_PATH|O_NOFOLLOW", "rel", O_PATH | O_NOFOLLOW, RESOLVE_NO_SYMLINKS);
    struct open_how nomagic = {.flags = O_RDONLY, .resolve = RESOLVE_NO_MAGICLINKS};
    try_how("no_magiclinks /proc/self/exe", AT_FDCWD, "/proc/self/exe", nomagic, sizeof nomagic);
    try_how("no_magiclinks /proc/self/status", AT_FDCWD, "/proc/self/status", nomagic, sizeof nomagic);
    char fdpath[64];
    snprintf(fdpath, sizeof fdpath, "/proc/self/fd/%d", dfd);
    try_how("no_magiclinks /proc/self/fd/N", AT_FDCWD, fdpath, nomagic, sizeof nomagic);
    try_how("plain /proc/self/fd/N", AT_FDCWD, fdpath, (struct open_how){.flags = O_RDONLY}, sizeof nomagic);

    // RESOLVE_NO_XDEV: /proc is another mount.
    struct open_how noxdev = {.flags = O_RDONLY, .resolve = RESOLVE_NO_XDEV};
    try_how("no_xdev /proc/self/status", AT_FDCWD, "/proc/self/status", noxdev, sizeof noxdev);
    try_how("no_xdev sub/g", dfd, "sub/g", noxdev, sizeof noxdev);

    unlink("sub/back");
    unlink("sub/g");
    unlink("sub/new");
    unlink("sub/new2");
    rmdir("sub");
    unlink("f");
    unlink("up");
    unlink("abs");
    unlink("rel");
    chdir("/");
    rmdir(dir);
    return 0;
}
