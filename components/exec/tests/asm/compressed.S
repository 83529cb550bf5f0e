# Every RV64C form, for the expansion test (checked against the base-ISA spelling).
    .option rvc
    .text
    c.addi4spn a0, sp, 1020
    c.fld fa0, 248(a1)
    c.lw a2, 124(a3)
    c.ld a4, 248(a5)
    c.fsd fa1, 8(s0)
    c.sw s1, 4(a0)
    c.sd a1, 16(a2)
    c.nop
    c.addi a0, -32
    c.addiw a1, 31
    c.li a2, -1
    c.addi16sp sp, -512
    c.lui a3, 0xfffe1
    c.lui a4, 0x1f
    c.srli a5, 63
    c.srai s0, 1
    c.andi s1, -32
    c.sub a0, a1
    c.xor a0, a1
    c.or a0, a1
    c.and a0, a1
    c.subw a0, a1
    c.addw a0, a1
    c.j .-2048
    c.beqz a0, .-256
    c.bnez a1, .+254
    c.slli a0, 63
    c.fldsp fa0, 504(sp)
    c.lwsp a1, 252(sp)
    c.ldsp a2, 504(sp)
    c.jr a3
    c.mv a4, a5
    c.ebreak
    c.jalr a6
    c.add a7, s2
    c.fsdsp fa2, 504(sp)
    c.swsp a3, 252(sp)
    c.sdsp a4, 504(sp)
