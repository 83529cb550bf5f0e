/* Floating-point differential test: every F/D instruction over edge values and random
 * values, in all five static rounding modes and the dynamic one, printing result bits and
 * fflags. Operands travel as raw 64-bit register images, so NaN-boxing is exercised too. */
#include "rt.h"

static const u64 d_edge[] = {
    0, 0x8000000000000000, 0x3ff0000000000000, 0xbff0000000000000, 0x3ff8000000000000,
    0x3fb999999999999a, 0x3fd5555555555555, 0x7fefffffffffffff, 0xffefffffffffffff,
    0x0010000000000000, 0x000fffffffffffff, 0x8000000000000001, 0x0000000000000001,
    0x7ff0000000000000, 0xfff0000000000000, 0x7ff8000000000000, 0x7ff4000000000000,
    0xfff8000000000001, 0x4340000000000001, 0x43e0000000000000, 0xc3e0000000000000,
    0x41dfffffffc00000, 0x41efffffffe00000, 0xc1e0000000200000, 0x3fe0000000000000,
    0xbfe0000000000000, 0x4004000000000000, 0xc004000000000000, 0x400921fb54442d18,
    0x3ca0000000000000, 0x7fe0000000000000, 0x0018000000000000, 0x43f0000000000000,
};
static const u32 s_edge[] = {
    0, 0x80000000, 0x3f800000, 0xbf800000, 0x3fc00000, 0x3dcccccd, 0x3eaaaaab, 0x7f7fffff,
    0xff7fffff, 0x00800000, 0x007fffff, 0x80000001, 0x00000001, 0x7f800000, 0xff800000,
    0x7fc00000, 0x7fa00000, 0xffc00001, 0x4b800001, 0x5f000000, 0xdf000000, 0x4effffff,
    0x4f7fffff, 0xcf000001, 0x3f000000, 0xbf000000, 0x40200000, 0xc0200000, 0x40490fdb,
    0x33800000, 0x7f000000, 0x00c00000, 0x5f800000,
};
#define NE (sizeof d_edge / sizeof d_edge[0])
#define BOX(v) ((u64)(v) | 0xffffffff00000000ul)

static u64 d_val(unsigned i) { return d_edge[i]; }
/* Mostly boxed singles; a few improperly boxed ones (which must read as the canonical NaN). */
static u64 s_val(unsigned i) { return i == NE - 1 ? 0x000000003f800000ul : i == NE - 2 ? 0xfffffffe3f800000ul : BOX(s_edge[i]); }

/* Random operands: random sign and fraction, exponents clustered where rounding is
 * interesting (near 1, near overflow, near and below the subnormal threshold). */
static u64 rnd_d(void) {
    u64 r = rnd(), e;
    switch (r & 7) {
    case 0: e = 0; break;
    case 1: e = 0x7fe - (r >> 8 & 3); break;
    case 2: e = 1 + (r >> 8 & 63); break;
    default: e = 0x3ff - 30 + (r >> 8 & 63); break;
    }
    return (r & 0x8000000000000000) | e << 52 | (rnd() & 0xfffffffffffff);
}
static u64 rnd_s(void) {
    u64 r = rnd(), e;
    switch (r & 7) {
    case 0: e = 0; break;
    case 1: e = 0xfe - (r >> 8 & 3); break;
    case 2: e = 1 + (r >> 8 & 31); break;
    default: e = 0x7f - 20 + (r >> 8 & 31); break;
    }
    return BOX((r >> 32 & 0x80000000) | e << 23 | (rnd() & 0x7fffff));
}

static void out(u64 r, u64 fl) { hex(r, 16); putc_(' '); hex(fl, 2); putc_('\n'); }

/* One function per (instruction, rounding-mode suffix). */
#define F3(fn, insn, rm) static void fn(u64 a, u64 b, u64 c) { u64 r, fl; (void)b; (void)c; \
    asm volatile("fmv.d.x ft0,%2\n fmv.d.x ft1,%3\n fmv.d.x ft2,%4\n csrw fflags,zero\n " insn "\n frflags %1\n fmv.x.d %0,ft3" \
        : "=r"(r), "=r"(fl) : "r"(a), "r"(b), "r"(c) : "ft0", "ft1", "ft2", "ft3"); out(r, fl); }
#define FX(fn, insn, rm) static void fn(u64 a, u64 b, u64 c) { u64 r, fl; (void)b; (void)c; \
    asm volatile("fmv.d.x ft0,%2\n fmv.d.x ft1,%3\n csrw fflags,zero\n " insn "\n frflags %1" \
        : "=&r"(r), "=&r"(fl) : "r"(a), "r"(b), "r"(c) : "ft0", "ft1", "ft2", "ft3"); out(r, fl); }
#define XF(fn, insn, rm) static void fn(u64 a, u64 b, u64 c) { u64 r, fl; (void)b; (void)c; \
    asm volatile("csrw fflags,zero\n " insn "\n frflags %1\n fmv.x.d %0,ft3" \
        : "=&r"(r), "=&r"(fl) : "r"(a), "r"(b), "r"(c) : "ft0", "ft1", "ft2", "ft3"); out(r, fl); }

#define MODES(M, fn, insn, kind) M(fn##_rne, insn ",rne", kind) M(fn##_rtz, insn ",rtz", kind) \
    M(fn##_rdn, insn ",rdn", kind) M(fn##_rup, insn ",rup", kind) M(fn##_rmm, insn ",rmm", kind) \
    M(fn##_dyn, insn, kind)
#define T(fn, insn, kind) kind(fn, insn, 0)

/* Float results into ft3, from ft0/ft1/ft2. */
#define ARITH(X) \
    X(fadd_s, "fadd.s ft3,ft0,ft1", F3) X(fsub_s, "fsub.s ft3,ft0,ft1", F3) X(fmul_s, "fmul.s ft3,ft0,ft1", F3) \
    X(fdiv_s, "fdiv.s ft3,ft0,ft1", F3) X(fsqrt_s, "fsqrt.s ft3,ft0", F3) X(fadd_d, "fadd.d ft3,ft0,ft1", F3) \
    X(fsub_d, "fsub.d ft3,ft0,ft1", F3) X(fmul_d, "fmul.d ft3,ft0,ft1", F3) X(fdiv_d, "fdiv.d ft3,ft0,ft1", F3) \
    X(fsqrt_d, "fsqrt.d ft3,ft0", F3) X(fcvt_s_d, "fcvt.s.d ft3,ft0", F3) \
    X(fmadd_s, "fmadd.s ft3,ft0,ft1,ft2", F3) X(fmsub_s, "fmsub.s ft3,ft0,ft1,ft2", F3) \
    X(fnmsub_s, "fnmsub.s ft3,ft0,ft1,ft2", F3) X(fnmadd_s, "fnmadd.s ft3,ft0,ft1,ft2", F3) \
    X(fmadd_d, "fmadd.d ft3,ft0,ft1,ft2", F3) X(fmsub_d, "fmsub.d ft3,ft0,ft1,ft2", F3) \
    X(fnmsub_d, "fnmsub.d ft3,ft0,ft1,ft2", F3) X(fnmadd_d, "fnmadd.d ft3,ft0,ft1,ft2", F3) \
    X(fcvt_w_s, "fcvt.w.s %0,ft0", FX) X(fcvt_wu_s, "fcvt.wu.s %0,ft0", FX) X(fcvt_l_s, "fcvt.l.s %0,ft0", FX) \
    X(fcvt_lu_s, "fcvt.lu.s %0,ft0", FX) X(fcvt_w_d, "fcvt.w.d %0,ft0", FX) X(fcvt_wu_d, "fcvt.wu.d %0,ft0", FX) \
    X(fcvt_l_d, "fcvt.l.d %0,ft0", FX) X(fcvt_lu_d, "fcvt.lu.d %0,ft0", FX) \
    X(fcvt_s_w, "fcvt.s.w ft3,%2", XF) X(fcvt_s_wu, "fcvt.s.wu ft3,%2", XF) X(fcvt_s_l, "fcvt.s.l ft3,%2", XF) \
    X(fcvt_s_lu, "fcvt.s.lu ft3,%2", XF) \
    X(fcvt_d_l, "fcvt.d.l ft3,%2", XF) X(fcvt_d_lu, "fcvt.d.lu ft3,%2", XF)

#define DEF(fn, insn, kind) MODES(T, fn, insn, kind)
ARITH(DEF)

/* No rounding mode. */
#define NORM(X) \
    X(fsgnj_s, "fsgnj.s ft3,ft0,ft1", F3) X(fsgnjn_s, "fsgnjn.s ft3,ft0,ft1", F3) X(fsgnjx_s, "fsgnjx.s ft3,ft0,ft1", F3) \
    X(fmin_s, "fmin.s ft3,ft0,ft1", F3) X(fmax_s, "fmax.s ft3,ft0,ft1", F3) X(fsgnj_d, "fsgnj.d ft3,ft0,ft1", F3) \
    X(fsgnjn_d, "fsgnjn.d ft3,ft0,ft1", F3) X(fsgnjx_d, "fsgnjx.d ft3,ft0,ft1", F3) X(fmin_d, "fmin.d ft3,ft0,ft1", F3) \
    X(fmax_d, "fmax.d ft3,ft0,ft1", F3) X(feq_s, "feq.s %0,ft0,ft1", FX) X(flt_s, "flt.s %0,ft0,ft1", FX) \
    X(fle_s, "fle.s %0,ft0,ft1", FX) X(feq_d, "feq.d %0,ft0,ft1", FX) X(flt_d, "flt.d %0,ft0,ft1", FX) \
    X(fle_d, "fle.d %0,ft0,ft1", FX) X(fclass_s, "fclass.s %0,ft0", FX) X(fclass_d, "fclass.d %0,ft0", FX) \
    X(fmv_x_w, "fmv.x.w %0,ft0", FX) X(fmv_w_x, "fmv.w.x ft3,%2", XF) \
    X(fcvt_d_s, "fcvt.d.s ft3,ft0", F3) X(fcvt_d_w, "fcvt.d.w ft3,%2", XF) X(fcvt_d_wu, "fcvt.d.wu ft3,%2", XF)
#define DEF1(fn, insn, kind) kind(fn, insn, 0)
NORM(DEF1)

typedef void (*fnp)(u64, u64, u64);
struct test { const char *name; int args; int fmt; fnp f[6]; };
/* fmt: 's' or 'd' operand values, 'i' integer operands. */
#define ROW(fn, insn, kind) { insn, 0, 0, { fn##_rne, fn##_rtz, fn##_rdn, fn##_rup, fn##_rmm, fn##_dyn } },
#define ROW1(fn, insn, kind) { insn, 0, 0, { fn, 0, 0, 0, 0, 0 } },
static struct test tests[] = { ARITH(ROW) NORM(ROW1) };

static int has(const char *s, const char *sub) {
    for (; *s; s++) {
        const char *a = s, *b = sub;
        while (*b && *a == *b) a++, b++;
        if (!*b) return 1;
    }
    return 0;
}

static u64 val(int fmt, unsigned i) {
    if (fmt == 'd') return d_val(i);
    if (fmt == 's') return s_val(i);
    return d_edge[i] ^ (i * 0x100000001ul); /* integers: a mix */
}
static u64 rval(int fmt) {
    if (fmt == 'd') return rnd_d();
    if (fmt == 's') return rnd_s();
    u64 r = rnd();
    return r >> (r & 63);
}

int main(void) {
    for (unsigned t = 0; t < sizeof tests / sizeof tests[0]; t++) {
        struct test *x = &tests[t];
        const char *n = x->name;
        /* Operand count and format from the mnemonic. */
        int args = has(n, "ft2") ? 3 : has(n, "ft1") ? 2 : 1;
        int fmt = has(n, ".s.") && !has(n, ".s.d") ? 'i' : has(n, ".d.") && !has(n, ".d.s") ? 'i' : has(n, "fmv.w.x") ? 'i'
                : has(n, "fcvt.s.d") ? 'd' : has(n, "fcvt.d.s") ? 's' : has(n, ".s ") ? 's' : 'd';
        for (int m = 0; m < 6; m++) {
            if (!x->f[m]) continue;
            if (m == 5) {
                /* Dynamic rounding: cycle frm through the five modes. */
            }
            puts_("== "); puts_(n); putc_(' '); hex(m, 1); putc_('\n');
            for (int dm = 0; dm < (m == 5 ? 5 : 1); dm++) {
                if (m == 5) asm volatile("fsrm %0" : : "r"((u64)dm));
                unsigned lim = args == 3 ? 12 : NE;
                for (unsigned i = 0; i < lim; i++)
                    for (unsigned j = 0; j < (args >= 2 ? lim : 1); j++)
                        for (unsigned k = 0; k < (args == 3 ? lim : 1); k++)
                            x->f[m](val(fmt, i), val(fmt, j), val(fmt, k));
                for (int r = 0; r < (m == 5 ? 200 : 1500); r++) {
                    u64 a = rval(fmt), b = rval(fmt), c = rval(fmt);
                    if (r & 1) c ^= 0x8000000000000000ul; /* cancellation in fma */
                    x->f[m](a, b, c);
                }
                asm volatile("fsrm zero");
            }
        }
    }
    return 0;
}
