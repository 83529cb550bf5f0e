/* A small stack-machine interpreter with a switch dispatch loop, running a bytecode
 * program that counts primes below a bound by trial division and sums a Collatz
 * sequence length per prime: the dispatch pattern of every scripting-language VM. */
#include "bench.h"

enum { PUSH, LOAD, STORE, ADD, SUB, MUL, MOD, DIV, LT, JZ, JMP, DUP, POP, INC, HALT };

/* Variables: 0 n, 1 d, 2 count, 3 bound, 4 is_prime, 5 x, 6 steps. */

int main(int argc, char **argv) {
    /* The program, assembled with forward references patched as their labels appear:
     * for n in 2..bound: if n is prime (trial division up to sqrt n), count it and add
     * the length of n's Collatz sequence. */
    int64_t prog[256];
    int pc = 0;
#define E(x) (prog[pc++] = (x))
    int64_t bound = (int64_t)bench_n(bench_scale(argc, argv), 50000);
    E(PUSH); E(2); E(STORE); E(0);
    int outer = pc;
    E(LOAD); E(0); E(LOAD); E(3); E(LT); E(JZ); int fix_end = pc; E(0);
    E(PUSH); E(1); E(STORE); E(4); E(PUSH); E(2); E(STORE); E(1);
    int inner = pc;
    E(LOAD); E(1); E(LOAD); E(1); E(MUL); E(LOAD); E(0); E(PUSH); E(1); E(ADD); E(LT);
    E(JZ); int fix_after_inner = pc; E(0);
    E(LOAD); E(0); E(LOAD); E(1); E(MOD); E(JZ); int fix_div = pc; E(0);
    E(INC); E(1); E(JMP); E(inner);
    prog[fix_div] = pc;
    E(PUSH); E(0); E(STORE); E(4);
    prog[fix_after_inner] = pc;
    E(LOAD); E(4); E(JZ); int fix_next = pc; E(0);
    E(INC); E(2); E(LOAD); E(0); E(STORE); E(5);
    int collatz = pc;
    E(PUSH); E(1); E(LOAD); E(5); E(LT); E(JZ); int fix_cdone = pc; E(0);
    E(INC); E(6);
    E(LOAD); E(5); E(PUSH); E(2); E(MOD); E(JZ); int fix_even = pc; E(0);
    E(LOAD); E(5); E(PUSH); E(3); E(MUL); E(PUSH); E(1); E(ADD); E(STORE); E(5); E(JMP); E(collatz);
    prog[fix_even] = pc;
    E(LOAD); E(5); E(PUSH); E(2); E(DIV); E(STORE); E(5); E(JMP); E(collatz);
    prog[fix_cdone] = pc;
    prog[fix_next] = pc;
    E(INC); E(0); E(JMP); E(outer);
    prog[fix_end] = pc;
    E(HALT);
#undef E

    int64_t vars[8] = {0};
    vars[3] = bound;
    int64_t stack[64];
    int sp = 0;
    uint64_t executed = 0;
    for (pc = 0;;) {
        executed++;
        switch (prog[pc++]) {
        case PUSH: stack[sp++] = prog[pc++]; break;
        case LOAD: stack[sp++] = vars[prog[pc++]]; break;
        case STORE: vars[prog[pc++]] = stack[--sp]; break;
        case ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case SUB: sp--; stack[sp - 1] -= stack[sp]; break;
        case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
        case MOD: sp--; stack[sp - 1] %= stack[sp]; break;
        case DIV: sp--; stack[sp - 1] /= stack[sp]; break;
        case LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case JZ: { int64_t t = prog[pc++]; if (!stack[--sp]) pc = (int)t; break; }
        case JMP: pc = (int)prog[pc]; break;
        case DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case POP: sp--; break;
        case INC: vars[prog[pc++]]++; break;
        case HALT: goto done;
        default: printf("bad opcode at %d\n", pc - 1); return 1;
        }
    }
done:
    printf("bytecode primes<%lld %lld collatz-steps %lld ops %llu\n", (long long)bound,
           (long long)vars[2], (long long)vars[6], (unsigned long long)executed);
    return 0;
}
