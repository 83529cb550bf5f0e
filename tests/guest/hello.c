// hello: the foundation's end-to-end guest. Prints a greeting and its argv, one per line,
// so a test can check that arguments cross wasmtime -> kernel -> guest stack intact.
#include <stdio.h>

int main(int argc, char **argv) {
    printf("hello from riscv64\n");
    for (int i = 0; i < argc; i++)
        printf("argv[%d] = %s\n", i, argv[i]);
    return 0;
}
