// mem_remap: mremap (grow in place, move, shrink, fixed, dontunmap) and msync.
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>

static void report(const char *what, long v) {
    if (v == -1)
        printf("%s = -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s = ok\n", what);
}
#define T(x) report(#x, (long)(x))

int main(void) {
    long pg = 4096;
    char *a = mmap(NULL, 8 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(a + 2 * pg, 6 * pg); // two pages, then a free gap
    memset(a, 'x', 2 * pg);
    char *g = mremap(a, 2 * pg, 4 * pg, 0); // grows in place into the gap
    T(g);
    printf("in place: %d, kept: %c%c, new page: %d\n", g == a, g[0], g[2 * pg - 1], g[3 * pg]);
    char *blocker = mmap(a + 4 * pg, pg, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    T(blocker);
    T(mremap(a, 4 * pg, 6 * pg, 0));
    char *m = mremap(a, 4 * pg, 6 * pg, MREMAP_MAYMOVE);
    T(m);
    printf("moved: %d, kept: %c, old gone: %d\n", m != a, m[pg], msync(a, pg, MS_SYNC) == -1 && errno == ENOMEM);
    char *s = mremap(m, 6 * pg, pg, 0);
    printf("shrunk in place: %d\n", s == m);
    T(msync(m + pg, pg, MS_SYNC));
    T(mremap(m + 1, pg, pg, 0));
    T(mremap(m, pg, 2 * pg, MREMAP_FIXED, m + 8 * pg));
    T(mremap(m, pg, pg, 64));
    T(mremap(m, 3 * pg, 4 * pg, MREMAP_MAYMOVE));
    char *dst = mmap(NULL, 4 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    munmap(dst, 4 * pg);
    m[0] = 'q';
    char *f = mremap(m, pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_FIXED, dst + pg);
    printf("fixed: %d, kept: %c\n", f == dst + pg, f[0]);
    T(mremap(f, pg, pg, MREMAP_FIXED | MREMAP_MAYMOVE, f + pg / 2));
    char *k = mremap(f, pg, pg, MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
    printf("dontunmap: moved %d, kept %c, old reads %d\n", k != f, k[0], f[0]);
    T(mremap(f, pg, 2 * pg, MREMAP_MAYMOVE | MREMAP_DONTUNMAP));
    T(msync(k, pg, MS_ASYNC));
    T(msync(k, pg, MS_ASYNC | MS_SYNC));
    T(msync(k, pg, 8));
    T(msync(k + 1, pg, MS_SYNC));
    T(msync(k, pg, MS_INVALIDATE));
    // A high hint (V8 reserves its heap cage this way, far above the mmap base): when it is
    // free it is honoured, and munmap/mprotect must accept the whole user range, not Sv39's.
    char *h = mmap((void *)0x9084ec0000, 127 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    T(h);
    T(mprotect(h + 64 * pg, pg, PROT_READ | PROT_WRITE));
    h[64 * pg] = 'h';
    printf("high hint: %c\n", h[64 * pg]);
    T(munmap(h + 64 * pg, 63 * pg));
    T(munmap(h, 64 * pg));
    return 0;
}
