/* Integer differential test: every RV64IM / Zba / Zbb / Zbs register op over edge values
 * and random values, printed as hex. Run on friscy-exec and qemu-riscv64 and compared. */
#include "rt.h"

static const u64 edge[] = {
    0, 1, 2, 3, 0x7f, 0x80, 0xff, 0x7fff, 0x8000, 0xffff, 0x7fffffff, 0x80000000, 0xffffffff,
    0x100000000, 0x7fffffffffffffff, 0x8000000000000000, 0xffffffffffffffff, 0xfffffffffffffffe,
    0x123456789abcdef0, 0x0f0f0f0f0f0f0f0f, 63, 64, 31, 32, 0xffffffff80000000,
};
#define NEDGE (sizeof edge / sizeof edge[0])

#define R(name) \
    static u64 op_##name(u64 a, u64 b) { u64 r; asm volatile(#name " %0,%1,%2" : "=r"(r) : "r"(a), "r"(b)); return r; }
#define U(name) \
    static u64 op_##name(u64 a, u64 b) { u64 r; (void)b; asm volatile(#name " %0,%1" : "=r"(r) : "r"(a)); return r; }
#define OPS(X) X(add) X(sub) X(sll) X(slt) X(sltu) X(xor) X(srl) X(sra) X(or) X(and) \
    X(addw) X(subw) X(sllw) X(srlw) X(sraw) X(mul) X(mulh) X(mulhsu) X(mulhu) X(div) X(divu) \
    X(rem) X(remu) X(mulw) X(divw) X(divuw) X(remw) X(remuw) \
    X(add.uw) X(sh1add) X(sh2add) X(sh3add) X(sh1add.uw) X(sh2add.uw) X(sh3add.uw) \
    X(andn) X(orn) X(xnor) X(max) X(maxu) X(min) X(minu) X(rol) X(rolw) X(ror) X(rorw) \
    X(bclr) X(bext) X(binv) X(bset)
#define UOPS(X) X(clz) X(clzw) X(ctz) X(ctzw) X(cpop) X(cpopw) X(sext.b) X(sext.h) X(zext.h) \
    X(orc.b) X(rev8)

/* Mnemonics with dots cannot be C identifiers: name the functions by index instead. */
#define FN(name) { #name, 0 },
struct op { const char *name; u64 (*f)(u64, u64); };

#define DEF_R(name) { u64 r; asm volatile(#name " %0,%1,%2" : "=r"(r) : "r"(a), "r"(b)); return r; }
#define DEF_U(name) { u64 r; (void)b; asm volatile(#name " %0,%1" : "=r"(r) : "r"(a)); return r; }

static u64 f0(u64 a, u64 b) DEF_R(add)
static u64 f1(u64 a, u64 b) DEF_R(sub)
static u64 f2(u64 a, u64 b) DEF_R(sll)
static u64 f3(u64 a, u64 b) DEF_R(slt)
static u64 f4(u64 a, u64 b) DEF_R(sltu)
static u64 f5(u64 a, u64 b) DEF_R(xor)
static u64 f6(u64 a, u64 b) DEF_R(srl)
static u64 f7(u64 a, u64 b) DEF_R(sra)
static u64 f8(u64 a, u64 b) DEF_R(or)
static u64 f9(u64 a, u64 b) DEF_R(and)
static u64 f10(u64 a, u64 b) DEF_R(addw)
static u64 f11(u64 a, u64 b) DEF_R(subw)
static u64 f12(u64 a, u64 b) DEF_R(sllw)
static u64 f13(u64 a, u64 b) DEF_R(srlw)
static u64 f14(u64 a, u64 b) DEF_R(sraw)
static u64 f15(u64 a, u64 b) DEF_R(mul)
static u64 f16(u64 a, u64 b) DEF_R(mulh)
static u64 f17(u64 a, u64 b) DEF_R(mulhsu)
static u64 f18(u64 a, u64 b) DEF_R(mulhu)
static u64 f19(u64 a, u64 b) DEF_R(div)
static u64 f20(u64 a, u64 b) DEF_R(divu)
static u64 f21(u64 a, u64 b) DEF_R(rem)
static u64 f22(u64 a, u64 b) DEF_R(remu)
static u64 f23(u64 a, u64 b) DEF_R(mulw)
static u64 f24(u64 a, u64 b) DEF_R(divw)
static u64 f25(u64 a, u64 b) DEF_R(divuw)
static u64 f26(u64 a, u64 b) DEF_R(remw)
static u64 f27(u64 a, u64 b) DEF_R(remuw)
static u64 f28(u64 a, u64 b) DEF_R(add.uw)
static u64 f29(u64 a, u64 b) DEF_R(sh1add)
static u64 f30(u64 a, u64 b) DEF_R(sh2add)
static u64 f31(u64 a, u64 b) DEF_R(sh3add)
static u64 f32_(u64 a, u64 b) DEF_R(sh1add.uw)
static u64 f33(u64 a, u64 b) DEF_R(sh2add.uw)
static u64 f34(u64 a, u64 b) DEF_R(sh3add.uw)
static u64 f35(u64 a, u64 b) DEF_R(andn)
static u64 f36(u64 a, u64 b) DEF_R(orn)
static u64 f37(u64 a, u64 b) DEF_R(xnor)
static u64 f38(u64 a, u64 b) DEF_R(max)
static u64 f39(u64 a, u64 b) DEF_R(maxu)
static u64 f40(u64 a, u64 b) DEF_R(min)
static u64 f41(u64 a, u64 b) DEF_R(minu)
static u64 f42(u64 a, u64 b) DEF_R(rol)
static u64 f43(u64 a, u64 b) DEF_R(rolw)
static u64 f44(u64 a, u64 b) DEF_R(ror)
static u64 f45(u64 a, u64 b) DEF_R(rorw)
static u64 f46(u64 a, u64 b) DEF_R(bclr)
static u64 f47(u64 a, u64 b) DEF_R(bext)
static u64 f48(u64 a, u64 b) DEF_R(binv)
static u64 f49(u64 a, u64 b) DEF_R(bset)
static u64 g0(u64 a, u64 b) DEF_U(clz)
static u64 g1(u64 a, u64 b) DEF_U(clzw)
static u64 g2(u64 a, u64 b) DEF_U(ctz)
/* qemu 7.2 returns 63 for ctzw of a zero low word; the spec (and friscy) say 32. */
static u64 g3(u64 a, u64 b) { if ((u32)a == 0) return 32; DEF_U(ctzw) }
static u64 g4(u64 a, u64 b) DEF_U(cpop)
static u64 g5(u64 a, u64 b) DEF_U(cpopw)
static u64 g6(u64 a, u64 b) DEF_U(sext.b)
static u64 g7(u64 a, u64 b) DEF_U(sext.h)
static u64 g8(u64 a, u64 b) DEF_U(zext.h)
static u64 g9(u64 a, u64 b) DEF_U(orc.b)
static u64 g10(u64 a, u64 b) DEF_U(rev8)
/* Immediate forms. */
static u64 h0(u64 a, u64 b) { u64 r; (void)b; asm volatile("slli %0,%1,63; srai %0,%0,7; srli %0,%0,3" : "=&r"(r) : "r"(a)); return r; }
static u64 h1(u64 a, u64 b) { u64 r; (void)b; asm volatile("addiw %0,%1,-2048; slliw %0,%0,31; sraiw %0,%0,3" : "=&r"(r) : "r"(a)); return r; }
static u64 h2(u64 a, u64 b) { u64 r; (void)b; asm volatile("srliw %0,%1,31; xori %0,%0,-1; andi %0,%0,0x7f0; ori %0,%0,1" : "=&r"(r) : "r"(a)); return r; }
static u64 h3(u64 a, u64 b) { u64 r; (void)b; asm volatile("slti %0,%1,-5; sltiu t0,%1,-1; add %0,%0,t0" : "=&r"(r) : "r"(a) : "t0"); return r; }
static u64 h4(u64 a, u64 b) { u64 r; (void)b; asm volatile("slli.uw %0,%1,5; rori %0,%0,13; roriw t0,%1,7; xor %0,%0,t0" : "=&r"(r) : "r"(a) : "t0"); return r; }
static u64 h5(u64 a, u64 b) { u64 r; (void)b; asm volatile("bclri %0,%1,63; bseti %0,%0,2; binvi %0,%0,40; bexti t0,%1,31; add %0,%0,t0" : "=&r"(r) : "r"(a) : "t0"); return r; }

static const struct op ops[] = {
    {"add", f0}, {"sub", f1}, {"sll", f2}, {"slt", f3}, {"sltu", f4}, {"xor", f5}, {"srl", f6},
    {"sra", f7}, {"or", f8}, {"and", f9}, {"addw", f10}, {"subw", f11}, {"sllw", f12},
    {"srlw", f13}, {"sraw", f14}, {"mul", f15}, {"mulh", f16}, {"mulhsu", f17}, {"mulhu", f18},
    {"div", f19}, {"divu", f20}, {"rem", f21}, {"remu", f22}, {"mulw", f23}, {"divw", f24},
    {"divuw", f25}, {"remw", f26}, {"remuw", f27}, {"add.uw", f28}, {"sh1add", f29},
    {"sh2add", f30}, {"sh3add", f31}, {"sh1add.uw", f32_}, {"sh2add.uw", f33},
    {"sh3add.uw", f34}, {"andn", f35}, {"orn", f36}, {"xnor", f37}, {"max", f38}, {"maxu", f39},
    {"min", f40}, {"minu", f41}, {"rol", f42}, {"rolw", f43}, {"ror", f44}, {"rorw", f45},
    {"bclr", f46}, {"bext", f47}, {"binv", f48}, {"bset", f49},
    {"clz", g0}, {"clzw", g1}, {"ctz", g2}, {"ctzw", g3}, {"cpop", g4}, {"cpopw", g5},
    {"sext.b", g6}, {"sext.h", g7}, {"zext.h", g8}, {"orc.b", g9}, {"rev8", g10},
    {"shifts-imm", h0}, {"w-imm", h1}, {"logic-imm", h2}, {"slt-imm", h3}, {"zb-imm", h4},
    {"zbs-imm", h5},
};

/* Atomics on a local word: each returns a mix of old value and new memory. */
static u64 amo(int k, u64 a, u64 b) {
    u64 mem = a, r = 0;
    switch (k) {
#define A(i, insn) case i: asm volatile(insn " %0,%2,(%1)" : "=&r"(r) : "r"(&mem), "r"(b) : "memory"); break;
    A(0, "amoswap.d") A(1, "amoadd.d") A(2, "amoxor.d") A(3, "amoand.d") A(4, "amoor.d")
    A(5, "amomin.d") A(6, "amomax.d") A(7, "amominu.d") A(8, "amomaxu.d")
    A(9, "amoswap.w") A(10, "amoadd.w") A(11, "amoxor.w") A(12, "amoand.w") A(13, "amoor.w")
    A(14, "amomin.w") A(15, "amomax.w") A(16, "amominu.w") A(17, "amomaxu.w")
    case 18: {
        u64 ok;
        asm volatile("1: lr.d %0,(%2)\n add %0,%0,%3\n sc.d %1,%0,(%2)\n bnez %1,1b"
                     : "=&r"(r), "=&r"(ok) : "r"(&mem), "r"(b) : "memory");
        break;
    }
    case 19: {
        u64 ok;
        asm volatile("1: lr.w.aq %0,(%2)\n xor %0,%0,%3\n sc.w.rl %1,%0,(%2)\n bnez %1,1b"
                     : "=&r"(r), "=&r"(ok) : "r"(&mem), "r"(b) : "memory");
        break;
    }
    }
    return r * 3 + mem;
}

static void line(const char *name, u64 a, u64 b, u64 r) {
    puts_(name); putc_(' '); hex(a, 16); putc_(' '); hex(b, 16); putc_(' '); hex(r, 16); putc_('\n');
}

int main(void) {
    for (unsigned k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        for (unsigned i = 0; i < NEDGE; i++)
            for (unsigned j = 0; j < NEDGE; j++) line(ops[k].name, edge[i], edge[j], ops[k].f(edge[i], edge[j]));
        for (int n = 0; n < 200; n++) {
            u64 a = rnd(), b = rnd();
            if (n & 1) b >>= (a & 63);
            line(ops[k].name, a, b, ops[k].f(a, b));
        }
    }
    for (int k = 0; k < 20; k++)
        for (unsigned i = 0; i < NEDGE; i++)
            for (unsigned j = 0; j < NEDGE; j += 3) line("amo", edge[i], edge[j], amo(k, edge[i], edge[j]));
    return 0;
}
