/* stdout_errors: what write(2) to standard output reports when the host's stream fails:
 * the errno on standard error (ENOSPC for `> /dev/full`, EPIPE for a closed pipe, with
 * SIGPIPE ignored so it can tell), and exit status 0 once it has said so. */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(void) {
    signal(SIGPIPE, SIG_IGN);
    // Bigger than any pipe buffer, so a reader that is gone is noticed.
    static char buf[1 << 17];
    memset(buf, 'x', sizeof buf);
    for (int i = 0; i < 64; i++) {
        if (write(1, buf, sizeof buf) < 0) {
            fprintf(stderr, "write: %s\n", strerrorname_np(errno));
            return 0;
        }
    }
    fprintf(stderr, "write: no error\n");
    return 1;
}
