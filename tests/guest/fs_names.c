// fs_names: rename (renameat2 flags), hard and symbolic links, mknod of files and devices.
#include "fs_check.h"
#include <sys/sysmacros.h>

int main(int argc, char **argv) {
    enter(argc, argv);
    int fd;
    T(fd = open("a", O_CREAT | O_WRONLY, 0644));
    T(write(fd, "A", 1));
    close(fd);
    T(fd = open("b", O_CREAT | O_WRONLY, 0600));
    close(fd);
    T(rename("a", "c"));
    show("a");
    show("c");
    T(renameat2(AT_FDCWD, "c", AT_FDCWD, "b", RENAME_NOREPLACE));
    T(renameat2(AT_FDCWD, "c", AT_FDCWD, "b", RENAME_EXCHANGE));
    show("b");
    show("c");
    T(renameat2(AT_FDCWD, "c", AT_FDCWD, "zz", RENAME_EXCHANGE));
    T(renameat2(AT_FDCWD, "c", AT_FDCWD, "b", RENAME_EXCHANGE | RENAME_NOREPLACE));
    T(renameat2(AT_FDCWD, "c", AT_FDCWD, "b", 64));
    T(mkdir("d", 0755));
    T(mkdir("d/sub", 0755));
    T(mkdir("e", 0755));
    T(rename("d", "d/sub/x"));
    T(rename("e", "d"));
    T(rename("b", "e"));
    T(rename("e", "b"));
    T(rename("missing", "q"));
    T(rename("b", "nodir/q"));

    T(link("b", "h"));
    show("b");
    T(link("d", "dl"));
    T(link("b", "c"));
    T(link("missing", "q"));
    T(symlink("b", "s"));
    T(linkat(AT_FDCWD, "s", AT_FDCWD, "hs", 0));
    show("hs");
    show("s");
    T(linkat(AT_FDCWD, "s", AT_FDCWD, "hf", AT_SYMLINK_FOLLOW));
    show("hf");
    T(linkat(AT_FDCWD, "b", AT_FDCWD, "x", 0x8000));
    T(link("b", "newdir/"));

    char target[64] = {0};
    T(symlink("some/where", "s2"));
    T(readlink("s2", target, sizeof target));
    printf("s2 -> %s\n", target);
    T(symlink("x", "s2"));
    T(symlink("", "s3"));
    T(symlink("x", "nodir/s4"));

    T(mknod("n", S_IFREG | 0640, 0));
    show("n");
    T(mknod("n0", 0640, 0));
    show("n0");
    T(mknod("dd", S_IFDIR | 0755, 0));
    T(mknod("ll", S_IFLNK | 0755, 0));
    T(mknod("n", S_IFREG | 0640, 0));
    T(mknod("null", S_IFCHR | 0666, makedev(1, 3)));
    T(mknod("full", S_IFCHR | 0666, makedev(1, 7)));
    struct stat st;
    lstat("null", &st);
    printf("null: mode %o rdev %u:%u\n", st.st_mode, major(st.st_rdev), minor(st.st_rdev));
    T(fd = open("null", O_RDWR));
    T(write(fd, "xyz", 3));
    char c;
    T(read(fd, &c, 1));
    close(fd);
    T(fd = open("full", O_WRONLY));
    T(write(fd, "xyz", 3));
    close(fd);
    T(mknodat(AT_FDCWD, "zero", S_IFCHR | 0444, makedev(1, 5)));
    T(fd = open("zero", O_RDONLY));
    c = 7;
    T(read(fd, &c, 1));
    printf("zero gives %d\n", c);
    close(fd);
    return 0;
}
