// jit_code: code written at run time, as JITs (V8) do: through the executable mapping
// itself and through a second, writable mapping of the same memfd pages (double mapping),
// each followed by riscv_flush_icache before running it; and the syscall's flag check.
#define _GNU_SOURCE
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef __NR_riscv_flush_icache
#define __NR_riscv_flush_icache 259
#endif

// addi a0, zero, imm; ret (jalr zero, 0(ra))
static void emit(uint32_t *at, int imm) {
    at[0] = ((uint32_t)(imm & 0xfff) << 20) | (10 << 7) | 0x13;
    at[1] = 0x00008067;
}

static long flush(void *start, size_t len, unsigned long flags) {
    return syscall(__NR_riscv_flush_icache, start, (char *)start + len, flags);
}

int main(void) {
    long pg = 4096;
    uint32_t *code = mmap(NULL, pg, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    int (*fn)(void) = (int (*)(void))code;
    emit(code, 42);
    printf("flush = %ld\n", flush(code, pg, 0));
    printf("first: %d\n", fn());
    emit(code, 43);
    flush(code, pg, 1);
    printf("rewritten in place: %d\n", fn());

    int fd = memfd_create("jit", 0);
    ftruncate(fd, pg);
    uint32_t *rw = mmap(NULL, pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    uint32_t *rx = mmap(NULL, pg, PROT_READ | PROT_EXEC, MAP_SHARED, fd, 0);
    int (*dfn)(void) = (int (*)(void))rx;
    emit(rw, 7);
    flush(rx, pg, 0);
    printf("double mapped: %d\n", dfn());
    emit(rw, 8);
    flush(rx, pg, 0);
    printf("double mapped, rewritten: %d\n", dfn());

    long r = flush(code, pg, 2);
    printf("bad flags: %ld %s\n", r, r == -1 ? strerrorname_np(errno) : "-");
    return 0;
}
