// elf_interp_exec_main: a position-independent program whose PT_INTERP is
// /bin/elf_interp_exec, an ET_EXEC program. It never runs itself: the interpreter does,
// and exits.
// cflags: -nostdlib -fPIE -pie -Wl,--dynamic-linker=/bin/elf_interp_exec
void _start(void) {
    for (;;) {
    }
}
