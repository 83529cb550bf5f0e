// mem_filemap: private file mappings (what execve and ld.so make): copy-on-write between
// two mappings of one file, later write(2)s seen in pages not yet copied, a file rewritten
// and run again, mappings past EOF, and a truncated file mapped anew.
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <unistd.h>

static void fill(int fd, char c, long off, long n) {
    char buf[4096];
    memset(buf, c, sizeof buf);
    for (long done = 0; done < n; done += sizeof buf)
        pwrite(fd, buf, n - done < (long)sizeof buf ? n - done : (long)sizeof buf, off + done);
}

// A 64-page file whose page i holds the letter `first + i % 26`, mapped read-only and
// privately (its descriptor closed).
static char *map_lettered(const char *path, char first) {
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    for (int i = 0; i < 64; i++)
        fill(fd, first + i % 26, i * 4096L, 4096);
    char *m = mmap(NULL, 64 * 4096L, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    return m;
}

static int run(const char *path) {
    pid_t pid = fork();
    if (pid == 0) {
        execl(path, path, "--child", (char *)0);
        _exit(127);
    }
    int st;
    waitpid(pid, &st, 0);
    return WEXITSTATUS(st);
}

static const char marker[] = "friscy-marker-A";

// Copy /proc/self/exe to `path` (O_TRUNC over the old copy), the marker's last letter
// turned into 'B' if `patch`.
static void copy_self(const char *path, int patch) {
    static char buf[4 << 20];
    int in = open("/proc/self/exe", O_RDONLY);
    ssize_t len = 0, n;
    while ((n = read(in, buf + len, sizeof buf - len)) > 0)
        len += n;
    close(in);
    if (patch) {
        char *m = memmem(buf, len, marker, sizeof marker - 1);
        if (m)
            m[sizeof marker - 2] = 'B';
    }
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    write(out, buf, len);
    close(out);
}

int main(int argc, char **argv) {
    if (argc > 1 && strcmp(argv[1], "--child") == 0)
        return ((volatile const char *)marker)[sizeof marker - 2] == 'A' ? 3 : 4;
    long pg = 4096;
    const char *dir = argc > 1 ? argv[1] : "/tmp";
    char path[256];
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/filemap", dir);
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    fill(fd, 'A', 0, 3 * pg);
    char *a = mmap(NULL, 3 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    char *b = mmap(NULL, 3 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
    a[0] = 'x';
    char c;
    pread(fd, &c, 1, 0);
    printf("a[0]=%c b[0]=%c file[0]=%c\n", a[0], b[0], c);
    // A write(2) after mapping: pages no mapping copied yet show it.
    fill(fd, 'C', pg, 10);
    printf("after write: a[pg]=%c b[pg]=%c a[0]=%c\n", a[pg], b[pg], a[0]);
    // Appended bytes: a new mapping sees them, past EOF in the last page reads zero.
    fill(fd, 'D', 3 * pg, 100);
    char *d = mmap(NULL, 5 * pg, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("new map: d[3pg]=%c d[3pg+100]=%d\n", d[3 * pg], d[3 * pg + 100]);
    ftruncate(fd, pg);
    char *e = mmap(NULL, pg, PROT_READ, MAP_PRIVATE, fd, 0);
    printf("truncated: e[0]=%c e[10]=%c\n", e[0], e[10]);
    close(fd);

    // Pages never touched by the program: read by the kernel's own copies (write(2) to a
    // pipe or file, from the mapping), by a forked child, after mremap moved them, and
    // after the file was unlinked.
    snprintf(path, sizeof path, "%s/big", dir);
    char *big = map_lettered(path, 'a');
    // A second file, mapped and never touched before it is unlinked.
    char path2[300];
    snprintf(path2, sizeof path2, "%s/big2", dir);
    char *kept = map_lettered(path2, 'A');
    int p[2];
    pipe(p);
    write(p[1], big + 40 * pg + 4090, 12);
    char got[13] = {0};
    read(p[0], got, 12);
    printf("copied from untouched pages: %s\n", got);
    pid_t kid = fork();
    if (kid == 0)
        _exit(big[50 * pg]);
    int st;
    waitpid(kid, &st, 0);
    printf("child read: %c\n", WEXITSTATUS(st));
    char *moved = mremap(big, 64 * pg, 64 * pg, MREMAP_MAYMOVE | MREMAP_FIXED,
                         mmap(NULL, 64 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
    unlink(path);
    unlink(path2);
    // statfs frees the storage of unlinked files no descriptor holds: a mapping holds it.
    struct statfs sfs;
    statfs(dir, &sfs);
    printf("moved, unlinked: %c %c %c\n", moved[0], moved[33 * pg], moved[63 * pg + 4095]);
    printf("untouched, unlinked: %c %c\n", kept[45 * pg], kept[62 * pg + 7]);

    // This program copied, run, then rewritten in place with one byte of its data changed
    // and run again: the second run must see the new bytes, not pages cached from the first.
    snprintf(path, sizeof path, "%s/self", dir);
    for (int i = 0; i < 2; i++) {
        copy_self(path, i == 1);
        printf("run %d: %d\n", i, run(path));
    }
    return 0;
}
