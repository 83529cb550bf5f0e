// Pseudo-terminals and the n_tty line discipline, compared line by line with Linux
// (components/kernel/tests/tty.rs runs it in friscy and under qemu-riscv64 on the host's
// real ptys): /dev/ptmx and /dev/pts/N, default termios, canonical input with echo and
// erase, output processing, raw mode, VMIN/VTIME, window size, a controlling terminal
// acquired by a session leader's open, Ctrl-C and resizes as signals to the foreground
// process group, and hang-ups.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

static void show(const char *what, const char *buf, ssize_t n) {
    printf("%s (%zd):", what, n);
    for (ssize_t i = 0; i < n; i++) {
        unsigned char c = buf[i];
        if (c >= 0x20 && c < 0x7f && c != '\\')
            printf("%c", c);
        else
            printf("\\x%02x", c);
    }
    printf("\n");
}

// Read what is there within a short while (the echo of what was just written).
static ssize_t drain(int fd, char *buf, size_t len) {
    usleep(20000);
    int fl = fcntl(fd, F_GETFL);
    fcntl(fd, F_SETFL, fl | O_NONBLOCK);
    ssize_t n = read(fd, buf, len);
    fcntl(fd, F_SETFL, fl);
    return n < 0 ? -errno : n;
}

static int open_pty(char *name, size_t len) {
    int m = posix_openpt(O_RDWR | O_NOCTTY);
    if (m < 0 || grantpt(m) || unlockpt(m) || ptsname_r(m, name, len)) {
        perror("pty");
        exit(1);
    }
    return m;
}

static volatile sig_atomic_t got_int, got_winch;
static void on_int(int s) { (void)s; got_int = 1; }
static void on_winch(int s) { (void)s; got_winch = 1; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    char name[64], buf[256];
    int m = open_pty(name, sizeof name);
    printf("ptsname: %s\n", strncmp(name, "/dev/pts/", 9) == 0 ? "/dev/pts/N" : name);
    int s = open(name, O_RDWR | O_NOCTTY);
    if (s < 0) {
        perror("open slave");
        return 1;
    }
    printf("isatty: master %d slave %d\n", isatty(m), isatty(s));
    char *tn = ttyname(s);
    printf("ttyname matches: %d\n", tn && strcmp(tn, name) == 0);
    struct termios t;
    tcgetattr(s, &t);
    printf("slave termios: iflag %x oflag %x cflag %x lflag %x vmin %d vtime %d intr %d erase %d\n",
           t.c_iflag, t.c_oflag, t.c_cflag, t.c_lflag, t.c_cc[VMIN], t.c_cc[VTIME],
           t.c_cc[VINTR], t.c_cc[VERASE]);
    struct winsize ws;
    ioctl(s, TIOCGWINSZ, &ws);
    printf("initial size: %d %d\n", ws.ws_row, ws.ws_col);

    // Canonical input: echoed to the master, a line for the slave.
    write(m, "echo hi\r", 8);
    show("slave reads", buf, read(s, buf, sizeof buf));
    show("master sees", buf, drain(m, buf, sizeof buf));
    write(m, "abx\x7f" "c\x15xyz\x17" "d\r", 12);
    show("edited line", buf, read(s, buf, sizeof buf));
    show("edit echo", buf, drain(m, buf, sizeof buf));
    write(m, "one\x04", 4);
    show("eof-ended line", buf, read(s, buf, sizeof buf));
    write(m, "\x04", 1);
    show("end of file", buf, read(s, buf, sizeof buf));
    int avail = -1;
    write(m, "partial", 7);
    usleep(20000);
    ioctl(s, FIONREAD, &avail);
    printf("FIONREAD on a partial line: %d\n", avail);
    drain(m, buf, sizeof buf);
    tcflush(s, TCIFLUSH);

    // Output processing.
    write(s, "a\nb\tc\n", 6);
    show("output", buf, drain(m, buf, sizeof buf));

    // Raw mode: bytes as typed, no echo, no signals.
    struct termios raw = t;
    cfmakeraw(&raw);
    tcsetattr(s, TCSANOW, &raw);
    write(m, "\x03q\r", 3);
    show("raw read", buf, read(s, buf, sizeof buf));
    show("raw echo", buf, drain(m, buf, sizeof buf));
    raw.c_cc[VMIN] = 0;
    raw.c_cc[VTIME] = 1;
    tcsetattr(s, TCSANOW, &raw);
    show("vtime timeout", buf, read(s, buf, sizeof buf));
    raw.c_cc[VMIN] = 3;
    raw.c_cc[VTIME] = 0;
    tcsetattr(s, TCSANOW, &raw);
    write(m, "xyz", 3);
    show("vmin 3", buf, read(s, buf, sizeof buf));
    tcsetattr(s, TCSANOW, &t);

    // Window size.
    ws.ws_row = 30;
    ws.ws_col = 100;
    ioctl(m, TIOCSWINSZ, &ws);
    memset(&ws, 0, sizeof ws);
    ioctl(s, TIOCGWINSZ, &ws);
    printf("size set on the master: %d %d\n", ws.ws_row, ws.ws_col);
    pid_t pg = -1;
    printf("TIOCGPGRP on a slave that is not our tty: %d errno %d\n", ioctl(s, TIOCGPGRP, &pg),
           errno);

    // A session leader's open makes it the controlling terminal; ^C and a resize
    // signal the foreground group.
    int sync[2];
    pipe(sync);
    pid_t child = fork();
    if (child == 0) {
        close(sync[0]);
        signal(SIGINT, on_int);
        signal(SIGWINCH, on_winch);
        setsid();
        int c = open(name, O_RDWR);
        char line[64];
        // (Not tcgetsid: qemu-user does not pass TIOCGSID on.)
        snprintf(line, sizeof line, "ctty %d fg %d\n", c >= 0, tcgetpgrp(c) == getpid());
        write(sync[1], line, strlen(line));
        int tty = open("/dev/tty", O_RDWR);
        snprintf(line, sizeof line, "/dev/tty opens %d\n", tty >= 0);
        write(sync[1], line, strlen(line));
        while (!got_int || !got_winch)
            pause();
        write(sync[1], "child got SIGINT and SIGWINCH\n", 30);
        _exit(0);
    }
    close(sync[1]);
    FILE *from_child = fdopen(sync[0], "r");
    char line[128];
    for (int i = 0; i < 2 && fgets(line, sizeof line, from_child); i++)
        printf("child: %s", line);
    write(m, "\x03", 1);
    ws.ws_row = 31;
    ioctl(m, TIOCSWINSZ, &ws);
    if (fgets(line, sizeof line, from_child))
        printf("child: %s", line);
    int st;
    waitpid(child, &st, 0);
    printf("child exit %d\n", WEXITSTATUS(st));
    show("echo of ^C", buf, drain(m, buf, sizeof buf));

    // Hang-up: the master closes; the slave reads end of file and writes fail with EIO.
    close(m);
    ssize_t n = read(s, buf, sizeof buf);
    printf("slave read after hang-up: %zd\n", n);
    n = write(s, "x", 1);
    printf("slave write after hang-up: %zd errno %s\n", n, n < 0 ? strerror(errno) : "-");
    close(s);

    // The other way: the last slave closes; the master reads EIO.
    m = open_pty(name, sizeof name);
    s = open(name, O_RDWR | O_NOCTTY);
    close(s);
    n = read(m, buf, sizeof buf);
    printf("master read after the slave closed: %zd errno %s\n", n, n < 0 ? strerror(errno) : "-");
    printf("TIOCGPTN on a slave: %d\n", ioctl(open(name, O_RDWR | O_NOCTTY), TIOCGPTN, &n) < 0 ? errno : 0);
    return 0;
}
