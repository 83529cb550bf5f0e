# Self-modifying code: run a function, overwrite its first instruction, fence.i, run it
# again; exits with 10 * first + second (12 when the store is seen).
    .section rwxcode, "awx", @progbits
    .option norvc
    .globl _start
_start:
    call patchme
    mv s0, a0
    la t0, patchme
    lw t1, new_insn
    sw t1, 0(t0)
    fence.i
    call patchme
    li t2, 10
    mul s0, s0, t2
    add a0, s0, a0
    li a7, 93
    ecall
patchme:
    li a0, 1
    ret
    .p2align 2
new_insn:
    li a0, 2
