// creds: user and group ids and the permission checks made with them. Starts as root,
// sets up files, then children drop to other ids and try things; every result is printed
// so that friscy's output can be compared with Linux's (qemu-riscv64 run as root).
#include "fs_check.h"
#include <grp.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/fsuid.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>

static void ids(const char *when) {
    uid_t r, e, s;
    gid_t gr, ge, gs;
    gid_t g[16];
    getresuid(&r, &e, &s);
    getresgid(&gr, &ge, &gs);
    int n = getgroups(16, g);
    printf("%s: uid %d %d %d fsuid %d gid %d %d %d groups", when, r, e, s, setfsuid(-1), gr, ge,
           gs);
    for (int i = 0; i < n; i++) printf(" %d", g[i]);
    printf("\n");
    fflush(stdout);
}

static void file(const char *path, int mode) {
    int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, mode);
    if (fd < 0 || write(fd, "data\n", 5) != 5 || close(fd) != 0) {
        perror(path);
        _exit(3);
    }
    chmod(path, mode);
}

static void wait_child(pid_t pid) {
    int status;
    waitpid(pid, &status, 0);
    printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    fflush(stdout);
}

// An unprivileged user (1000, with supplementary group 50) against root's files.
static void as_user(void) {
    gid_t fifty = 50;
    T(setgroups(1, &fifty));
    T(setresgid(1000, 1000, 1000));
    T(setresuid(1000, 1000, 1000));
    ids("user");
    T(setuid(0));
    T(setgid(0));
    T(setgroups(0, NULL));
    T(setfsuid(0));
    T(open("priv/secret", O_RDONLY));
    T(stat("priv/secret", &(struct stat){0}));
    T(open("pub/ro", O_RDONLY) >= 0);
    T(open("pub/ro", O_WRONLY));
    T(open("pub/ro", O_RDONLY | O_TRUNC));
    T(open("priv", O_RDONLY | O_DIRECTORY));
    T(access("pub/ro", R_OK));
    T(access("pub/ro", W_OK));
    T(access("pub/ro", X_OK));
    T(access("priv/secret", F_OK));
    T(truncate("pub/ro", 0));
    T(mkdir("denied", 0755));
    T(mkdir("pub/d", 0755));
    show("pub/d");
    T(close(open("pub/f", O_CREAT | O_WRONLY, 0644)));
    show("pub/f");
    T(symlink("f", "pub/sl"));
    show("pub/sl");
    T(mkfifo("pub/fifo", 0644));
    show("pub/fifo");
    T(mknod("pub/null", S_IFCHR | 0666, makedev(1, 3)));
    T(mkdir("pub/d", 0755));
    // Owner-only changes.
    T(chmod("pub/f", 0600));
    T(chmod("pub/ro", 0666));
    T(chown("pub/f", 0, -1));
    T(chown("pub/f", 1000, 50));
    show("pub/f");
    T(chown("pub/f", -1, 60));
    T(chmod("pub/f", 02750));
    show("pub/f");
    T(utimensat(AT_FDCWD, "pub/rw", NULL, 0));
    T(utimensat(AT_FDCWD, "pub/ro", NULL, 0));
    struct timespec t[2] = {{1, 0}, {2, 0}};
    T(utimensat(AT_FDCWD, "pub/rw", t, 0));
    // Removing and renaming: pub is world-writable, sticky is sticky as well.
    T(unlink("pub/ro2"));
    T(unlink("sticky/theirs"));
    T(rename("sticky/theirs", "sticky/moved"));
    T(close(open("sticky/mine", O_CREAT | O_WRONLY, 0644)));
    T(rename("sticky/mine", "sticky/mine2"));
    T(unlink("sticky/mine2"));
    T(rename("pub/rootdir", "moved"));
    T(rename("pub/d", "pub/d2"));
    T(rmdir("pub/rootdir"));
    // Protected hard links: a file one cannot write.
    T(link("pub/ro", "pub/ln"));
    T(link("pub/rw", "pub/ln2"));
    // Set-group-ID directories hand down their group (and the bit to subdirectories).
    T(mkdir("sgid/sub", 0755));
    show("sgid/sub");
    T(close(open("sgid/file", O_CREAT | O_WRONLY, 0644)));
    show("sgid/file");
    // Execute permission.
    T(access("pub/script", X_OK));
    T(chdir("priv"));
    T(kill(getppid(), 0));
    T(kill(getpid(), 0));
}

// The ways a root process with a saved id moves between ids.
static void id_dance(void) {
    T(setresuid(1000, 1001, 0));
    ids("res");
    T(open("priv/secret", O_RDONLY));
    T(setreuid(-1, 0));
    ids("reuid -1 0");
    T(open("priv/secret", O_RDONLY) >= 0);
    T(access("priv/secret", R_OK));
    T(faccessat(AT_FDCWD, "priv/secret", R_OK, AT_EACCESS));
    T(setfsuid(1001));
    T(open("priv/secret", O_RDONLY));
    T(setfsuid(0));
    T(setreuid(1002, -1));
    ids("reuid 1002 -1");
    T(setregid(5, 6));
    ids("regid 5 6");
    T(setuid(1000));
    ids("setuid 1000");
    T(seteuid(0));
    T(setresuid(-1, -1, 1000));
    T(setreuid(1000, 1000));
    T(setfsuid(1000));
    T(setgid(6));
    T(setgid(7));
    ids("end");
}

int main(int argc, char **argv) {
    enter(argc, argv);
    T(setgroups(0, NULL));
    T(setgid(0));
    ids("root");
    T(mkdir("pub", 0777));
    T(chmod("pub", 0777));
    T(mkdir("priv", 0700));
    T(mkdir("sticky", 0777));
    T(chmod("sticky", 01777));
    T(mkdir("sgid", 0775));
    T(chown("sgid", 0, 50));
    T(chmod("sgid", 02775));
    T(mkdir("pub/rootdir", 0755));
    file("priv/secret", 0600);
    file("pub/ro", 0644);
    file("pub/ro2", 0644);
    file("pub/rw", 0666);
    file("pub/script", 0744);
    file("sticky/theirs", 0666);
    show("sgid");
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        as_user();
        _exit(0);
    }
    wait_child(pid);
    pid = fork();
    if (pid == 0) {
        id_dance();
        _exit(0);
    }
    wait_child(pid);
    // Root again: everything is allowed, and chown gives files away.
    T(open("pub/f", O_RDWR) >= 0);
    T(chown("pub/f", 7, 8));
    show("pub/f");
    T(unlink("sticky/theirs"));
    T(access("pub/ro", X_OK));
    T(access("pub/script", X_OK));
    return 0;
}
