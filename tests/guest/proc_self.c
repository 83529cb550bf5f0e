// proc_self: /proc and /dev as a program sees them: magic links, the fd directory, maps,
// stat, status, cmdline, auxv, cpuinfo, device nodes and /dev/stdout.
#define _GNU_SOURCE
#include <dirent.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static char buf[65536];

static int slurp(const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    int n = 0, r;
    while ((r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
        n += r;
    close(fd);
    buf[n] = 0;
    return n;
}

static void link_of(const char *path) {
    char t[256];
    ssize_t n = readlink(path, t, sizeof t - 1);
    t[n < 0 ? 0 : n] = 0;
    printf("%s -> %s\n", path, n < 0 ? strerrorname_np(errno) : t);
}

int main(int argc, char **argv) {
    link_of("/proc/self/exe");
    chdir("/bin");
    link_of("/proc/self/cwd");
    int fd = open("proc_self", O_RDONLY);
    printf("fd %d\n", fd);
    link_of("/proc/self/fd/3");
    link_of("/proc/self/fd/1");
    link_of("/dev/stdout");
    DIR *d = opendir("/proc/self/fd");
    printf("fds:");
    for (struct dirent *e; (e = readdir(d));)
        printf(" %s", e->d_name);
    printf("\n");
    closedir(d);
    int n = slurp("/proc/self/cmdline");
    for (int i = 0; i < n; i++)
        if (!buf[i])
            buf[i] = ' ';
    printf("cmdline: %s\n", buf);
    slurp("/proc/self/maps");
    printf("maps has exe: %d, stack: %d\n", strstr(buf, "/bin/proc_self") != NULL,
           strstr(buf, "[stack]") != NULL);
    slurp("/proc/self/stat");
    printf("stat: %.17s\n", buf);
    slurp("/proc/self/status");
    printf("status: %.15s\n", buf);
    n = slurp("/proc/self/auxv");
    for (Elf64_auxv_t *a = (Elf64_auxv_t *)buf; (char *)a < buf + n; a++)
        if (a->a_type == AT_PAGESZ || a->a_type == AT_NULL)
            printf("auxv %lu = %lu\n", a->a_type, a->a_un.a_val);
    slurp("/proc/cpuinfo");
    printf("%.*s", (int)(strchr(strstr(buf, "isa"), '\n') - strstr(buf, "isa") + 1), strstr(buf, "isa"));
    slurp("/proc/mounts");
    printf("mounts: %s", buf);
    printf("/proc/self/fd/99: %s\n", access("/proc/self/fd/99", F_OK) ? strerrorname_np(errno) : "exists");
    struct stat st;
    stat("/dev/null", &st);
    printf("/dev/null: %o %u:%u\n", st.st_mode, major(st.st_rdev), minor(st.st_rdev));
    stat("/dev/stdout", &st);
    printf("/dev/stdout is a %s\n", S_ISFIFO(st.st_mode) ? "fifo" : S_ISCHR(st.st_mode) ? "chr" : "?");
    d = opendir("/dev");
    printf("dev:");
    for (struct dirent *e; (e = readdir(d));)
        printf(" %s", e->d_name);
    printf("\n");
    closedir(d);
    fflush(stdout);
    int out = open("/dev/stdout", O_WRONLY);
    write(out, "via /dev/stdout\n", 16);
    chdir("/proc/self");
    printf("cwd %s\n", getcwd(buf, sizeof buf));
    printf("open fd dir: %d\n", open("fd", O_RDONLY | O_DIRECTORY) > 0);
    printf("mkdir in /proc: %s\n", mkdir("/proc/x", 0755) ? strerrorname_np(errno) : "ok");
    return 0;
}
