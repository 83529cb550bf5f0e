// fs_inotify: inotify(7) events for the changes a program makes to files and
// directories (creates, writes, attributes, opens and closes, renames, links, removals),
// the watch options (IN_ONESHOT, IN_MASK_ADD, IN_MASK_CREATE, IN_ONLYDIR), and the
// descriptor itself (read sizes, O_NONBLOCK, FIONREAD, poll). Printed for comparison
// with Linux; cookies are shown only as "paired" or not.
#include "fs_check.h"
#include <dirent.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>

static int in;
static int wd_dir, wd_file;
static uint32_t last_cookie;

static const char *watch_name(int wd) {
    if (wd == wd_dir) return "dir";
    if (wd == wd_file) return "file";
    if (wd == -1) return "-1";
    return "other";
}

static void show_mask(uint32_t m) {
    static const struct {
        uint32_t bit;
        const char *name;
    } names[] = {
        {IN_ACCESS, "ACCESS"},         {IN_MODIFY, "MODIFY"},
        {IN_ATTRIB, "ATTRIB"},         {IN_CLOSE_WRITE, "CLOSE_WRITE"},
        {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
        {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},
        {IN_CREATE, "CREATE"},         {IN_DELETE, "DELETE"},
        {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
        {IN_UNMOUNT, "UNMOUNT"},       {IN_Q_OVERFLOW, "Q_OVERFLOW"},
        {IN_IGNORED, "IGNORED"},       {IN_ISDIR, "ISDIR"},
    };
    const char *sep = "";
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (m & names[i].bit) {
            printf("%s%s", sep, names[i].name);
            sep = "|";
            m &= ~names[i].bit;
        }
    if (m) printf("%s%#x", sep, m);
}

// Read and print every queued event.
static void drain(const char *after) {
    char buf[4096] __attribute__((aligned(8)));
    printf("after %s:\n", after);
    for (;;) {
        ssize_t n = read(in, buf, sizeof buf);
        if (n < 0) {
            if (errno != EAGAIN) printf("  read: %s\n", strerrorname_np(errno));
            break;
        }
        for (char *p = buf; p < buf + n;) {
            struct inotify_event *e = (struct inotify_event *)p;
            printf("  %s ", watch_name(e->wd));
            show_mask(e->mask);
            if (e->cookie) {
                printf(" cookie %s", e->cookie == last_cookie ? "paired" : "new");
                last_cookie = e->cookie;
            }
            if (e->len) printf(" \"%s\" (len %u)", e->name, e->len);
            printf("\n");
            p += sizeof *e + e->len;
        }
    }
    fflush(stdout);
}

static void put(const char *path, const char *data) {
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(fd, data, strlen(data));
    close(fd);
}

int main(int argc, char **argv) {
    enter(argc, argv);
    T(mkdir("w", 0755));
    put("w/existing", "old\n");
    T(inotify_init1(0x40));
    T(in = inotify_init1(IN_NONBLOCK | IN_CLOEXEC));
    T(fcntl(in, F_GETFD));
    T(fcntl(in, F_GETFL) & O_NONBLOCK);
    T(inotify_add_watch(in, "w", 0));
    T(inotify_add_watch(in, "w", IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE));
    T(inotify_add_watch(in, "missing", IN_ALL_EVENTS));
    T(inotify_add_watch(0, "w", IN_ALL_EVENTS));
    T(inotify_add_watch(in, "w/existing", IN_ALL_EVENTS | IN_ONLYDIR));
    T(wd_dir = inotify_add_watch(in, "w", IN_ALL_EVENTS));
    T(inotify_add_watch(in, "w", IN_ALL_EVENTS | IN_MASK_CREATE));
    T(inotify_add_watch(in, "w", IN_ALL_EVENTS) == wd_dir);
    T(read(in, (char[64]){0}, 64));

    // Entries of the watched directory, by name.
    put("w/a", "hello\n");
    drain("creating and writing w/a");
    int fd = open("w/existing", O_RDONLY);
    char b[16];
    T(read(fd, b, sizeof b));
    T(read(fd, b, sizeof b));
    close(fd);
    drain("reading w/existing");
    T(wd_file = inotify_add_watch(in, ".", IN_OPEN | IN_ACCESS | IN_CLOSE_NOWRITE));
    DIR *d = opendir("w");
    while (readdir(d)) {
    }
    closedir(d);
    T(inotify_rm_watch(in, wd_file));
    drain("listing w");
    T(chmod("w/a", 0600));
    T(truncate("w/a", 2));
    T(utimensat(AT_FDCWD, "w/a", NULL, 0));
    drain("chmod, truncate, utimensat");
    T(rename("w/a", "w/b"));
    T(rename("w/b", "moved-out"));
    T(rename("moved-out", "w/c"));
    drain("renames");
    T(link("w/c", "w/d"));
    T(unlink("w/d"));
    T(symlink("c", "w/s"));
    T(mkdir("w/sub", 0755));
    T(rmdir("w/sub"));
    T(unlink("w/s"));
    drain("links, symlinks, directories");

    // A file's own watch.
    T(wd_file = inotify_add_watch(in, "w/c", IN_MODIFY | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF));
    fd = open("w/c", O_WRONLY | O_APPEND);
    T(write(fd, "x", 1));
    T(write(fd, "y", 1));
    close(fd);
    T(rename("w/c", "w/e"));
    drain("the file's own watch: writes, a rename");
    int n;
    put("w/e", "more\n");
    T(ioctl(in, FIONREAD, &n));
    printf("  -> %d\n", n);
    T(read(in, (char[20]){0}, 20));
    struct pollfd pfd = {in, POLLIN, 0};
    T(poll(&pfd, 1, 0));
    printf("  -> revents %#x\n", pfd.revents);
    drain("rewriting it");
    T(unlink("w/e"));
    drain("unlinking it");
    pfd.revents = 0;
    T(poll(&pfd, 1, 0));

    // Options.
    T(inotify_rm_watch(in, wd_dir));
    T(inotify_rm_watch(in, wd_dir));
    drain("removing the directory's watch");
    put("w/f", "f\n");
    T(wd_file = inotify_add_watch(in, "w/f", IN_ATTRIB | IN_ONESHOT));
    T(chmod("w/f", 0600));
    T(chmod("w/f", 0644));
    drain("a one-shot watch");
    T(wd_file = inotify_add_watch(in, "w/f", IN_ATTRIB));
    T(inotify_add_watch(in, "w/f", IN_MODIFY | IN_MASK_ADD) == wd_file);
    put("w/f", "g\n");
    T(chmod("w/f", 0600));
    T(inotify_add_watch(in, "w/f", IN_ATTRIB) == wd_file);
    put("w/f", "h\n");
    T(chmod("w/f", 0644));
    drain("IN_MASK_ADD, then a mask replaced");
    T(mkdir("d2", 0755));
    T(wd_dir = inotify_add_watch(in, "d2", IN_DELETE_SELF | IN_MOVE_SELF | IN_CREATE));
    T(rename("d2", "d3"));
    T(mkdir("d3/x", 0755));
    T(rmdir("d3/x"));
    T(rmdir("d3"));
    drain("a watched directory moved and removed");
    T(close(in));
    T(unlink("w/f"));
    T(unlink("w/existing"));
    T(rmdir("w"));
    return 0;
}
