// fs_chroot: chroot(2) as sshd's privilege separation, debootstrap and build tools use
// it: absolute paths, `..` and absolute symlinks stay inside the new root, children and
// execve keep it, the working directory is left outside until changed (getcwd says
// "(unreachable)"), and only CAP_SYS_CHROOT may call it. Printed for comparison with
// Linux; every chroot happens in a child, so the parent can clean up.
#include "fs_check.h"
#include <stdlib.h>
#include <sys/wait.h>

static void wait_child(pid_t pid) {
    int status;
    waitpid(pid, &status, 0);
    printf("child exited %d\n", WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    fflush(stdout);
}

static void cat(const char *path) {
    char buf[64] = {0};
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        printf("cat %s: %s\n", path, strerrorname_np(errno));
    } else {
        int n = read(fd, buf, sizeof buf - 1);
        printf("cat %s: %.*s", path, n > 0 ? n : 0, buf);
        close(fd);
    }
    fflush(stdout);
}

static void cwd(void) {
    char buf[4096];
    if (!getcwd(buf, sizeof buf)) {
        printf("getcwd: %s\n", strerrorname_np(errno));
    } else if (strncmp(buf, "(unreachable)", 13) == 0) {
        printf("getcwd: (unreachable)...\n");
    } else {
        printf("getcwd: %s\n", buf);
    }
    fflush(stdout);
}

static void put(const char *path, const char *data) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    write(fd, data, strlen(data));
    close(fd);
}

static void copy(int in, const char *to) {
    int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    char buf[65536];
    ssize_t n;
    while ((n = read(in, buf, sizeof buf)) > 0) write(out, buf, n);
    close(in);
    close(out);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "inside") == 0) {
        // Run by execve inside the jail.
        cwd();
        cat("/etc/hello");
        cat("/../etc/hello");
        T(access("/bin/prog", X_OK));
        return 0;
    }
    // This program, opened before enter() changes directory (argv[0] may be relative).
    int self = open(argv[0], O_RDONLY);
    enter(argc, argv);
    T(mkdir("jail", 0755));
    T(mkdir("jail/etc", 0755));
    T(mkdir("jail/bin", 0755));
    T(mkdir("jail/sub", 0755));
    put("jail/etc/hello", "inside\n");
    T(symlink("/etc/hello", "jail/abs"));
    T(symlink("../../../../etc", "jail/sub/up"));
    copy(self, "jail/bin/prog");
    T(chroot("jail/etc/hello"));
    T(chroot("no-such-dir"));
    pid_t pid = fork();
    if (pid == 0) {
        int outside = open(".", O_RDONLY | O_DIRECTORY);
        T(chroot("jail"));
        cwd();
        cat("/etc/hello");
        cat("/../../../etc/hello");
        cat("/abs");
        cat("/sub/up/hello");
        T(mkdir("/made", 0700));
        T(access("jail/made", F_OK));
        T(chdir("/"));
        cwd();
        T(chdir(".."));
        cwd();
        T(access("made", F_OK));
        T(rename("/made", "/etc/made"));
        T(access("/etc/made", F_OK));
        T(chroot("/etc"));
        cat("/hello");
        T(chdir("/"));
        cwd();
        // A descriptor from outside still leads out.
        T(fchdir(outside));
        cwd();
        T(access("jail", F_OK));
        _exit(0);
    }
    wait_child(pid);
    T(access("jail/etc/made", F_OK));
    pid = fork();
    if (pid == 0) {
        T(chroot("jail"));
        T(chdir("/"));
        execl("/bin/prog", "/bin/prog", "inside", NULL);
        printf("execl: %s\n", strerrorname_np(errno));
        fflush(stdout);
        _exit(1);
    }
    wait_child(pid);
    pid = fork();
    if (pid == 0) {
        T(setresuid(1000, 1000, 1000));
        T(chroot("jail"));
        _exit(0);
    }
    wait_child(pid);
    unlink("jail/etc/made");
    unlink("jail/etc/hello");
    unlink("jail/bin/prog");
    unlink("jail/abs");
    unlink("jail/sub/up");
    rmdir("jail/sub");
    rmdir("jail/bin");
    rmdir("jail/etc");
    rmdir("jail");
    return 0;
}
