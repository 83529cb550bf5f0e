// code_rewrite: self-modifying code, for the AOT backend (a translated page written must
// run interpreted from then on) and for the interpreter's decoded-block cache alike.
//  1. patches a function of its own text (mprotect RWX, new instructions, fence.i) and
//     calls it again;
//  2. writes code into an anonymous RWX mapping (as a JIT does), runs it, rewrites it,
//     runs it again.
// Prints one line per call; `ok` at the end when every result was the expected one.
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

// Not inlined, and its address taken, so it stays a function of its own.
__attribute__((noinline)) int answer(int x) { return x * 3 + 1; }
int (*volatile answer_ptr)(int) = answer;

// li a0, IMM (addi a0, x0, IMM); ret (jalr x0, 0(ra)).
static void li_ret(uint32_t *p, int imm) {
    p[0] = 0x00000513u | ((uint32_t)(imm & 0xfff) << 20);
    p[1] = 0x00008067u;
}

static void sync_icache(void) { __asm__ volatile("fence.i" ::: "memory"); }

int main(void) {
    int bad = 0;
    long page = sysconf(_SC_PAGESIZE);

    int before = answer_ptr(5);
    printf("text before: %d\n", before);
    bad |= before != 16;
    uintptr_t f = (uintptr_t)answer;
    void *pg = (void *)(f & ~(uintptr_t)(page - 1));
    if (mprotect(pg, 2 * page, PROT_READ | PROT_WRITE | PROT_EXEC) != 0) {
        perror("mprotect");
        return 1;
    }
    li_ret((uint32_t *)f, 42);
    sync_icache();
    int after = answer_ptr(5);
    printf("text after: %d\n", after);
    bad |= after != 42;

    uint32_t *buf = mmap(0, page, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (buf == MAP_FAILED) {
        perror("mmap");
        return 1;
    }
    int (*jit)(void) = (int (*)(void))buf;
    for (int round = 1; round <= 3; round++) {
        li_ret(buf, 100 * round);
        sync_icache();
        int got = jit();
        printf("jit round %d: %d\n", round, got);
        bad |= got != 100 * round;
    }
    printf(bad ? "FAILED\n" : "ok\n");
    return bad;
}
