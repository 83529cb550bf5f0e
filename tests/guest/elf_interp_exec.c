// elf_interp_exec: a program run as another program's PT_INTERP, linked as ET_EXEC at
// 0x4000000 (see elf_interp_exec_main.c). Linux and qemu map such an interpreter at its
// own link address and start it with the program's argv; it prints where it runs and
// what it was given.
// cflags: -static -Wl,-Ttext-segment=0x4000000
#include <stdio.h>
#include <sys/auxv.h>

int main(int argc, char **argv) {
    printf("interpreter at its link address: %d\n", (unsigned long)main >> 24 == 4);
    for (int i = 0; i < argc; i++)
        printf("argv[%d] %s\n", i, argv[i]);
    // AT_ENTRY is the program's entry, not ours.
    printf("AT_ENTRY is the program's: %d\n", getauxval(AT_ENTRY) != (unsigned long)main);
    return 0;
}
