// fs_copy: preadv/pwritev (and the v2 forms), sendfile, copy_file_range, close_range.
#include "fs_check.h"
#include <linux/close_range.h>
#include <sys/sendfile.h>
#include <sys/uio.h>

static void dump(const char *path) {
    char buf[64] = {0};
    int fd = open(path, O_RDONLY);
    int n = read(fd, buf, sizeof buf - 1);
    close(fd);
    printf("%s: %d [", path, n);
    for (int i = 0; i < n; i++)
        putchar(buf[i] ? buf[i] : '.');
    printf("]\n");
}

int main(int argc, char **argv) {
    enter(argc, argv);
    int fd, in, out;
    T(fd = open("v", O_CREAT | O_RDWR, 0644));
    char a[4] = "abcd", b[3] = "efg";
    struct iovec w[2] = {{a, 4}, {b, 3}};
    T(pwritev(fd, w, 2, 2));
    T(lseek(fd, 0, SEEK_CUR));
    dump("v");
    char x[3] = {0}, y[5] = {0};
    struct iovec r[2] = {{x, 2}, {y, 4}};
    T(preadv(fd, r, 2, 3));
    printf("[%.2s][%.4s]\n", x, y);
    T(preadv(fd, r, 2, -1));
    T(preadv2(fd, r, 2, -1, 0)); // -1: the file position (0)
    T(lseek(fd, 0, SEEK_CUR));
    T(preadv2(fd, r, 2, 0, 0x40));
    T(preadv(99, r, 2, 0));
    int pfd[2];
    T(pipe(pfd));
    T(preadv(pfd[0], r, 1, 0));
    T(pwritev(pfd[1], w, 1, 0));

    T(in = open("v", O_RDONLY));
    T(out = open("o", O_CREAT | O_WRONLY | O_TRUNC, 0644));
    off_t off = 2;
    T(sendfile(out, in, &off, 5));
    printf("off %lld, in at %lld\n", (long long)off, (long long)lseek(in, 0, SEEK_CUR));
    T(sendfile(out, in, NULL, 3));
    printf("in at %lld\n", (long long)lseek(in, 0, SEEK_CUR));
    dump("o");
    T(sendfile(in, out, NULL, 3));
    int app;
    T(app = open("o", O_WRONLY | O_APPEND));
    T(sendfile(app, in, NULL, 3));
    T(sendfile(out, pfd[0], NULL, 3));

    int cp;
    T(cp = open("c", O_CREAT | O_RDWR | O_TRUNC, 0644));
    loff_t ioff = 0, ooff = 4;
    T(copy_file_range(in, &ioff, cp, &ooff, 100, 0));
    printf("ioff %lld ooff %lld\n", (long long)ioff, (long long)ooff);
    dump("c");
    T(copy_file_range(in, NULL, cp, NULL, 2, 0));
    T(copy_file_range(in, &ioff, cp, &ooff, 1, 1));
    T(copy_file_range(out, NULL, cp, NULL, 1, 0));
    T(copy_file_range(in, NULL, app, NULL, 1, 0));
    ioff = 0;
    ooff = 2;
    T(copy_file_range(cp, &ioff, cp, &ooff, 4, 0));
    int dfd = open(".", O_RDONLY);
    T(copy_file_range(dfd, NULL, cp, NULL, 1, 0));
    T(copy_file_range(pfd[0], NULL, cp, NULL, 1, 0));

    T(dup2(fd, 20));
    T(dup2(fd, 21));
    T(dup2(fd, 23));
    T(close_range(21, 22, CLOSE_RANGE_CLOEXEC));
    T(fcntl(21, F_GETFD));
    T(fcntl(20, F_GETFD));
    T(close_range(20, ~0U, 0));
    T(fcntl(20, F_GETFD));
    T(fcntl(23, F_GETFD));
    T(fcntl(fd, F_GETFD));
    T(close_range(5, 4, 0));
    T(close_range(1, 2, 8));
    return 0;
}
