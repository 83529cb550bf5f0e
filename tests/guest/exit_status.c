// exit_status: exits with the status given as its first argument (default 0), after
// writing one line to stdout and one to stderr, so tests can check both streams and
// that the exact status reaches the user.
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    int status = argc > 1 ? atoi(argv[1]) : 0;
    printf("exiting with %d\n", status);
    fprintf(stderr, "to stderr\n");
    return status;
}
