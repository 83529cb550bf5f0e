/* A libc-free runtime for guest test programs: _start, buffered stdout, exit. */
typedef unsigned long u64;
typedef long i64;
typedef unsigned int u32;

static long sys3(long nr, long a, long b, long c) {
    register long a0 asm("a0") = a, a1 asm("a1") = b, a2 asm("a2") = c, a7 asm("a7") = nr;
    asm volatile("ecall" : "+r"(a0) : "r"(a1), "r"(a2), "r"(a7) : "memory");
    return a0;
}

static char obuf[4096];
static int olen;

static void flush(void) {
    if (olen) sys3(64, 1, (long)obuf, olen);
    olen = 0;
}
static void putc_(char c) {
    if (olen == sizeof obuf) flush();
    obuf[olen++] = c;
}
static void puts_(const char *s) {
    while (*s) putc_(*s++);
}
static void hex(u64 v, int digits) {
    for (int i = digits - 1; i >= 0; i--) putc_("0123456789abcdef"[(v >> (4 * i)) & 15]);
}
static void __attribute__((noreturn)) exit_(int code) {
    flush();
    sys3(93, code, 0, 0);
    __builtin_unreachable();
}

int main(void);
void __attribute__((noreturn)) _start_c(void) { exit_(main()); }
asm(".globl _start\n_start:\n .option push\n .option norelax\n la gp, __global_pointer$\n .option pop\n call _start_c\n");

/* xorshift64 */
static u64 rng_state = 0x9e3779b97f4a7c15ul;
static u64 rnd(void) {
    u64 x = rng_state;
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    return rng_state = x;
}
