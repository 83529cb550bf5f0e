// A tiny file tool for tests that have no shell in the image (the default image holds
// only these static programs): each subcommand is one or two syscalls, and errors print
// as "OP PATH: strerror" with exit status 1, so tests can tell exactly what failed.
//
//   files cat PATH...          files write PATH TEXT      files append PATH TEXT
//   files ls DIR               files mkdir DIR            files rm PATH
//   files rmdir DIR            files mv OLD NEW           files symlink TARGET LINK
//   files readlink PATH        files stat PATH            files link OLD NEW
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static int fail(const char *op, const char *path) {
    printf("%s %s: %s\n", op, path, strerror(errno));
    return 1;
}

static int cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: files OP ARGS...\n");
        return 2;
    }
    const char *op = argv[1], *p = argv[2];
    if (!strcmp(op, "cat")) {
        for (int i = 2; i < argc; i++) {
            int fd = open(argv[i], O_RDONLY);
            if (fd < 0) return fail("open", argv[i]);
            char buf[4096];
            ssize_t n;
            while ((n = read(fd, buf, sizeof buf)) > 0) fwrite(buf, 1, n, stdout);
            if (n < 0) return fail("read", argv[i]);
            close(fd);
        }
        return 0;
    }
    if ((!strcmp(op, "write") || !strcmp(op, "append")) && argc == 4) {
        int flags = O_WRONLY | O_CREAT | (op[0] == 'w' ? O_TRUNC : O_APPEND);
        int fd = open(p, flags, 0644);
        if (fd < 0) return fail("open", p);
        size_t len = strlen(argv[3]);
        if (write(fd, argv[3], len) != (ssize_t)len) return fail("write", p);
        return close(fd) ? fail("close", p) : 0;
    }
    if (!strcmp(op, "ls")) {
        DIR *d = opendir(p);
        if (!d) return fail("opendir", p);
        char *names[1024];
        int n = 0;
        struct dirent *e;
        while ((e = readdir(d)) && n < 1024) names[n++] = strdup(e->d_name);
        qsort(names, n, sizeof *names, cmp);
        for (int i = 0; i < n; i++) printf("%s\n", names[i]);
        return 0;
    }
    if (!strcmp(op, "mkdir")) return mkdir(p, 0755) ? fail("mkdir", p) : 0;
    if (!strcmp(op, "rm")) return unlink(p) ? fail("unlink", p) : 0;
    if (!strcmp(op, "rmdir")) return rmdir(p) ? fail("rmdir", p) : 0;
    if (!strcmp(op, "mv") && argc == 4) return rename(p, argv[3]) ? fail("rename", p) : 0;
    if (!strcmp(op, "link") && argc == 4) return link(p, argv[3]) ? fail("link", p) : 0;
    if (!strcmp(op, "symlink") && argc == 4)
        return symlink(p, argv[3]) ? fail("symlink", argv[3]) : 0;
    if (!strcmp(op, "readlink")) {
        char buf[4096];
        ssize_t n = readlink(p, buf, sizeof buf - 1);
        if (n < 0) return fail("readlink", p);
        buf[n] = 0;
        printf("%s\n", buf);
        return 0;
    }
    if (!strcmp(op, "stat")) {
        struct stat st;
        if (lstat(p, &st)) return fail("stat", p);
        const char *t = S_ISDIR(st.st_mode) ? "dir" : S_ISLNK(st.st_mode) ? "link"
                      : S_ISREG(st.st_mode) ? "file" : "other";
        printf("%s %lld\n", t, (long long)st.st_size);
        return 0;
    }
    fprintf(stderr, "files: bad arguments for %s\n", op);
    return 2;
}
