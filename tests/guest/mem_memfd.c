// mem_memfd: memfd_create(2) files: read/write, fstat, /proc/self/fd names, flags,
// ftruncate and shared mappings seen by read(2).
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

int main(void) {
    int fd = memfd_create("friscy", MFD_CLOEXEC);
    printf("fd ok: %d, cloexec: %d\n", fd >= 0, fcntl(fd, F_GETFD) & FD_CLOEXEC);
    printf("write: %zd\n", write(fd, "hello memfd", 11));
    char buf[64] = {0};
    printf("pread: %zd %s\n", pread(fd, buf, sizeof buf, 6), buf);
    struct stat st;
    fstat(fd, &st);
    printf("size %lld, regular %d, nlink %lu, mode %o\n", (long long)st.st_size, S_ISREG(st.st_mode),
           (unsigned long)st.st_nlink, st.st_mode & 07777);
    char link[64], path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(path, link, sizeof link - 1);
    link[n > 0 ? n : 0] = 0;
    printf("name: %s\n", link);
    printf("ftruncate: %d\n", ftruncate(fd, 8192));
    char *m = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    memcpy(m + 4096, "via map", 7);
    memset(buf, 0, sizeof buf);
    printf("pread after store: %zd %s, head %.5s\n", pread(fd, buf, 7, 4096), buf, m);
    int bad = memfd_create("x", 0x100);
    printf("bad flags: %d %s\n", bad, bad == -1 ? strerrorname_np(errno) : "-");
    char longname[300];
    memset(longname, 'a', sizeof longname - 1);
    longname[299] = 0;
    bad = memfd_create(longname, 0);
    printf("long name: %d %s\n", bad, bad == -1 ? strerrorname_np(errno) : "-");
    return 0;
}
