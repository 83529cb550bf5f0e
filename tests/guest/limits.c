/* limits: what a greedy guest sees at the container's limits (FRISCY_MEMORY,
 * FRISCY_PIDS_LIMIT, FRISCY_NOFILE, FRISCY_DISK). Each subtest pushes one limit until the
 * kernel refuses, prints the errno and how far it got, shows that it can go on afterwards,
 * and exits 0 by itself.
 *   limits mem [chunk-MiB]   malloc and touch chunks until ENOMEM
 *   limits mmap              mmap 100 MiB at a time until ENOMEM; PROT_NONE is free
 *   limits noreserve [MiB]   a MAP_NORESERVE mapping costs nothing until touched; a child
 *                            that touches all of it is OOM-killed, the parent goes on
 *   limits pids [n]          fork n sleeping children, or until fork fails
 *   limits nofile            open /dev/null until EMFILE; RLIMIT_NOFILE's ceiling
 *   limits disk DIR [MiB]    write DIR/fill 1 MiB at a time until ENOSPC, then rm, again
 *   limits spin              loop forever (FRISCY_TIMEOUT ends it) */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

#define MIB (1L << 20)

static int mem(long chunk_mib) {
    long total = 0;
    for (;;) {
        char *p = malloc(chunk_mib * MIB);
        if (!p) {
            printf("malloc: %s after %ld MiB\n", strerrorname_np(errno), total);
            break;
        }
        memset(p, 0x5a, chunk_mib * MIB);
        total += chunk_mib;
        if (total > (64L << 10)) {
            printf("no limit after %ld MiB\n", total);
            return 1;
        }
    }
    // Still alive, and small allocations still work.
    char *small = malloc(4096);
    printf("small malloc after: %s\n", small ? "ok" : "failed");
    return 0;
}

static int mapping(void) {
    long total = 0;
    for (;;) {
        void *p = mmap(0, 100 * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            printf("mmap: %s after %ld MiB\n", strerrorname_np(errno), total);
            break;
        }
        total += 100;
        if (total > (64L << 10))
            return 1;
    }
    // A reservation costs nothing until it is made writable.
    char *r = mmap(0, 512 * MIB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    printf("PROT_NONE 512 MiB: %s\n", r == MAP_FAILED ? strerrorname_np(errno) : "ok");
    if (r != MAP_FAILED) {
        int rc = mprotect(r, 512 * MIB, PROT_READ | PROT_WRITE);
        printf("mprotect it RW: %s\n", rc ? strerrorname_np(errno) : "ok");
        rc = mprotect(r, MIB, PROT_READ | PROT_WRITE);
        printf("mprotect 1 MiB of it RW: %s\n", rc ? strerrorname_np(errno) : "ok");
    }
    return 0;
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

static int noreserve(long mib) {
    long before = rss_kib();
    char *p = mmap(0, mib * MIB, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) {
        printf("MAP_NORESERVE %ld MiB: %s\n", mib, strerrorname_np(errno));
        return 1;
    }
    // Reading untouched pages costs nothing either (they are all the zero page).
    long sum = 0;
    for (long off = 0; off < mib * MIB; off += 4096)
        sum += p[off];
    printf("MAP_NORESERVE %ld MiB: ok, reads %ld, resident grew %ld MiB\n", mib, sum,
           (rss_kib() - before) / 1024);
    pid_t pid = fork();
    if (pid == 0) {
        for (long off = 0; off < mib * MIB; off += 4096)
            p[off] = 1;
        _exit(0);
    }
    int st = 0;
    waitpid(pid, &st, 0);
    if (WIFSIGNALED(st))
        printf("child touching it: killed by signal %d\n", WTERMSIG(st));
    else
        printf("child touching it: exited %d\n", WEXITSTATUS(st));
    // The parent's own pages still work.
    memset(p, 7, MIB);
    printf("parent after: %s\n", p[MIB - 1] == 7 ? "ok" : "wrong");
    return 0;
}

static int pids(int n) {
    int made = 0, err = 0;
    pid_t kids[4096];
    for (; made < n && made < 4096; made++) {
        pid_t pid = fork();
        if (pid < 0) {
            err = errno;
            break;
        }
        if (pid == 0) {
            pause();
            _exit(0);
        }
        kids[made] = pid;
    }
    if (err)
        printf("fork: %s after %d children\n", strerrorname_np(err), made);
    else
        printf("%d children\n", made);
    for (int i = 0; i < made; i++)
        kill(kids[i], SIGKILL);
    for (int i = 0; i < made; i++)
        waitpid(kids[i], 0, 0);
    // The slots come back once the children are reaped.
    pid_t pid = fork();
    if (pid == 0)
        _exit(7);
    int st = 0;
    waitpid(pid, &st, 0);
    printf("fork after reaping: %s\n", pid > 0 && WEXITSTATUS(st) == 7 ? "ok" : "failed");
    return 0;
}

static int nofile(void) {
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    printf("RLIMIT_NOFILE %ld %ld\n", (long)rl.rlim_cur, (long)rl.rlim_max);
    int last = -1, n = 0;
    for (;;) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd < 0) {
            printf("open: %s with %d more open, highest fd %d\n", strerrorname_np(errno), n, last);
            break;
        }
        last = fd;
        n++;
    }
    printf("dup2 to the limit: %s\n",
           dup2(0, (int)rl.rlim_cur) < 0 ? strerrorname_np(errno) : "ok");
    struct rlimit up = {rl.rlim_max + 1, rl.rlim_max + 1};
    printf("raise past the hard limit: %s\n",
           setrlimit(RLIMIT_NOFILE, &up) ? strerrorname_np(errno) : "ok");
    struct rlimit down = {16, rl.rlim_max};
    setrlimit(RLIMIT_NOFILE, &down);
    close(3);
    printf("open below the new soft limit: %s\n",
           open("/dev/null", O_RDONLY) == 3 ? "fd 3" : strerrorname_np(errno));
    return 0;
}

static int disk(const char *dir, long max_mib) {
    static char buf[MIB];
    memset(buf, 0x42, sizeof buf);
    char path[256];
    snprintf(path, sizeof path, "%s/fill", dir);
    for (int round = 0; round < 2; round++) {
        int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0) {
            printf("open: %s\n", strerrorname_np(errno));
            return 1;
        }
        long total = 0;
        int err = 0;
        while (total < max_mib * MIB) {
            ssize_t n = write(fd, buf, sizeof buf);
            if (n < 0) {
                err = errno;
                break;
            }
            total += n;
        }
        struct statfs s;
        statfs(dir, &s);
        printf("round %d: write: %s after %ld MiB; statfs free %ld MiB\n", round,
               err ? strerrorname_np(err) : "no error", total / MIB,
               (long)(s.f_bavail * s.f_bsize / MIB));
        // Unlinked while open: the space is still used until the last close.
        unlink(path);
        char c = 0;
        printf("write after unlink: %s\n", write(fd, &c, 1) < 0 ? strerrorname_np(errno) : "ok");
        close(fd);
        // The last close frees it: df shows the space again.
        statfs(dir, &s);
        printf("round %d: after close: statfs free %ld MiB\n", round,
               (long)(s.f_bavail * s.f_bsize / MIB));
    }
    return 0;
}

int main(int argc, char **argv) {
    setvbuf(stdout, 0, _IONBF, 0);
    const char *what = argc > 1 ? argv[1] : "";
    if (!strcmp(what, "mem"))
        return mem(argc > 2 ? atol(argv[2]) : 16);
    if (!strcmp(what, "mmap"))
        return mapping();
    if (!strcmp(what, "noreserve"))
        return noreserve(argc > 2 ? atol(argv[2]) : 1900);
    if (!strcmp(what, "pids"))
        return pids(argc > 2 ? atoi(argv[2]) : 4096);
    if (!strcmp(what, "nofile"))
        return nofile();
    if (!strcmp(what, "disk") && argc > 2)
        return disk(argv[2], argc > 3 ? atol(argv[3]) : 1L << 20);
    if (!strcmp(what, "spin"))
        for (;;) {
        }
    fprintf(stderr, "usage: limits mem|mmap|noreserve|pids|nofile|disk DIR|spin\n");
    return 2;
}
