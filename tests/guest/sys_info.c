// sys_info: getgroups, getrusage, times, riscv_hwprobe (printed, not compared: qemu 7.2
// does not implement it).
#define _GNU_SOURCE
#include <errno.h>
#include <grp.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/times.h>
#include <unistd.h>

static void report(const char *what, long v) {
    if (v < 0)
        printf("%s = -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%s = %ld\n", what, v);
}
#define T(x) report(#x, (long)(x))

struct pair { long long key; unsigned long long value; };

int main(int argc, char **argv) {
    gid_t g[8] = {99, 99};
    T(getgroups(0, NULL));
    T(getgroups(8, g));
    printf("groups[0] = %d\n", g[0]);
    T(syscall(SYS_getgroups, -1, g));
    struct rusage ru;
    T(getrusage(RUSAGE_SELF, &ru));
    T(getrusage(RUSAGE_CHILDREN, &ru));
    T(getrusage(RUSAGE_THREAD, &ru));
    T(getrusage(7, &ru));
    struct tms t;
    printf("times >= 0: %d\n", times(&t) >= 0);
    if (argc > 1 && strcmp(argv[1], "probe") == 0) {
        struct pair p[8] = {{0}, {1}, {2}, {3}, {4}, {5}, {6}, {1000}};
        T(syscall(258, p, 8, 0, NULL, 0));
        for (int i = 0; i < 8; i++)
            printf("hwprobe %lld = %#llx\n", p[i].key, p[i].value);
        T(syscall(258, p, 1, 0, NULL, 1));
        unsigned long cpus = 2;
        T(syscall(258, p, 1, sizeof cpus, &cpus, 0));
        cpus = 1;
        T(syscall(258, p, 1, sizeof cpus, &cpus, 0));
    }
    return 0;
}
