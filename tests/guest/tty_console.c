// The console as the first process sees it (components/kernel/tests/tty.rs drives it
// from a scripted host): fds 0-2 are /dev/pts/0, its controlling terminal, with the
// host's window size; a line typed with an erase arrives edited (and echoed, in raw
// mode); Ctrl-C, a resize and a SIGTERM forwarded by the host reach its handlers.
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t got_int, got_winch, got_term;
static void on_int(int s) { (void)s; got_int = 1; }
static void on_winch(int s) { (void)s; got_winch = 1; }
static void on_term(int s) { (void)s; got_term = 1; }

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    signal(SIGINT, on_int);
    signal(SIGWINCH, on_winch);
    signal(SIGTERM, on_term);
    char *name = ttyname(0);
    printf("ttyname %s isatty %d%d%d\n", name ? name : "-", isatty(0), isatty(1), isatty(2));
    struct termios t;
    tcgetattr(0, &t);
    printf("icanon %d echo %d isig %d\n", !!(t.c_lflag & ICANON), !!(t.c_lflag & ECHO),
           !!(t.c_lflag & ISIG));
    struct winsize ws;
    ioctl(1, TIOCGWINSZ, &ws);
    printf("size %d %d\n", ws.ws_row, ws.ws_col);
    printf("foreground %d session leader %d\n", tcgetpgrp(0) == getpid(), getsid(0) == getpid());
    printf("ready\n");
    char buf[64];
    ssize_t n = read(0, buf, sizeof buf);
    printf("read %zd: %.*s", n, (int)n, buf);
    printf("waiting\n");
    while (!got_int || !got_winch || !got_term)
        pause();
    ioctl(1, TIOCGWINSZ, &ws);
    printf("signals ok, size %d %d\n", ws.ws_row, ws.ws_col);
    return 0;
}
