// segfault: stores through a null pointer. With no SIGSEGV handler the process dies with
// signal 11, so friscy must report it and exit with 128+11.
#include <stdio.h>

int main(void) {
    printf("about to fault\n");
    fflush(stdout);
    volatile int *p = (int *)0;
    *p = 42;
    return 0;
}
