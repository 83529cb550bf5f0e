// environ: prints its environment, one variable per line, so tests can check what reaches
// the guest (image defaults, -e/--env overrides, the default PATH).
#include <stdio.h>

extern char **environ;

int main(void) {
    for (char **e = environ; *e; e++)
        puts(*e);
    return 0;
}
