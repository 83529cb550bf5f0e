# One of every instruction friscy decodes (plus compressed forms), for the decoder and
# disassembler tests: each word is decoded and printed, and compared with objdump.
    .option norvc
    .text
start:
    lui a0, 0x12345
    auipc t1, 0xfffff
    jal ra, start
    jalr t0, -8(a1)
    beq a0, a1, start
    bne s0, s1, start
    blt t3, t4, start
    bge a2, a3, start
    bltu a4, a5, start
    bgeu a6, a7, start
    lb a0, -1(sp)
    lh a1, 2(s0)
    lw a2, 2047(a0)
    ld a3, -2048(a1)
    lbu a4, 0(a2)
    lhu a5, 6(a3)
    lwu a6, 8(a4)
    sb a0, -1(sp)
    sh a1, 2(s0)
    sw a2, 100(a0)
    sd a3, -8(a1)
    addi a0, a1, -5
    slti a0, a1, 7
    sltiu a0, a1, 7
    xori a0, a1, -1
    ori a0, a1, 255
    andi a0, a1, 15
    slli a0, a1, 63
    srli a0, a1, 1
    srai a0, a1, 33
    add a0, a1, a2
    sub a0, a1, a2
    sll a0, a1, a2
    slt a0, a1, a2
    sltu a0, a1, a2
    xor a0, a1, a2
    srl a0, a1, a2
    sra a0, a1, a2
    or a0, a1, a2
    and a0, a1, a2
    addiw a0, a1, -1
    slliw a0, a1, 31
    srliw a0, a1, 3
    sraiw a0, a1, 4
    addw a0, a1, a2
    subw a0, a1, a2
    sllw a0, a1, a2
    srlw a0, a1, a2
    sraw a0, a1, a2
    fence rw, rw
    fence iorw, iorw
    fence.tso
    ecall
    ebreak
    fence.i
    csrrw a0, fflags, a1
    csrrs a0, frm, a1
    csrrc a0, fcsr, a1
    csrrwi a0, fflags, 3
    csrrsi a0, frm, 1
    csrrci a0, fcsr, 31
    csrrs a0, cycle, zero
    csrrs a0, time, zero
    csrrs a0, instret, zero
    mul a0, a1, a2
    mulh a0, a1, a2
    mulhsu a0, a1, a2
    mulhu a0, a1, a2
    div a0, a1, a2
    divu a0, a1, a2
    rem a0, a1, a2
    remu a0, a1, a2
    mulw a0, a1, a2
    divw a0, a1, a2
    divuw a0, a1, a2
    remw a0, a1, a2
    remuw a0, a1, a2
    lr.w a0, (a1)
    sc.w a0, a2, (a1)
    amoswap.w a0, a2, (a1)
    amoadd.w a0, a2, (a1)
    amoxor.w a0, a2, (a1)
    amoand.w a0, a2, (a1)
    amoor.w a0, a2, (a1)
    amomin.w a0, a2, (a1)
    amomax.w a0, a2, (a1)
    amominu.w a0, a2, (a1)
    amomaxu.w a0, a2, (a1)
    lr.d a0, (a1)
    sc.d a0, a2, (a1)
    amoswap.d a0, a2, (a1)
    amoadd.d a0, a2, (a1)
    amoxor.d a0, a2, (a1)
    amoand.d a0, a2, (a1)
    amoor.d a0, a2, (a1)
    amomin.d a0, a2, (a1)
    amomax.d a0, a2, (a1)
    amominu.d a0, a2, (a1)
    amomaxu.d a0, a2, (a1)
    flw fa0, 4(sp)
    fsw fa1, -4(sp)
    fmadd.s fa0, fa1, fa2, fa3
    fmsub.s fa0, fa1, fa2, fa3, rtz
    fnmsub.s fa0, fa1, fa2, fa3, rdn
    fnmadd.s fa0, fa1, fa2, fa3, rup
    fadd.s fa0, fa1, fa2, rmm
    fsub.s fa0, fa1, fa2, rne
    fmul.s fa0, fa1, fa2
    fdiv.s fa0, fa1, fa2
    fsqrt.s fa0, fa1
    fsgnj.s fa0, fa1, fa2
    fsgnjn.s fa0, fa1, fa2
    fsgnjx.s fa0, fa1, fa2
    fmin.s fa0, fa1, fa2
    fmax.s fa0, fa1, fa2
    fcvt.w.s a0, fa1, rtz
    fcvt.wu.s a0, fa1
    fcvt.l.s a0, fa1
    fcvt.lu.s a0, fa1
    fmv.x.w a0, fa1
    fclass.s a0, fa1
    feq.s a0, fa1, fa2
    flt.s a0, fa1, fa2
    fle.s a0, fa1, fa2
    fcvt.s.w fa0, a1
    fcvt.s.wu fa0, a1
    fcvt.s.l fa0, a1
    fcvt.s.lu fa0, a1
    fmv.w.x fa0, a1
    fld fs0, 8(sp)
    fsd fs1, 16(sp)
    fmadd.d ft0, ft1, ft2, ft3
    fmsub.d fa0, fa1, fa2, fa3
    fnmsub.d fa0, fa1, fa2, fa3
    fnmadd.d fa0, fa1, fa2, fa3
    fadd.d fa0, fa1, fa2
    fsub.d fa0, fa1, fa2
    fmul.d fa0, fa1, fa2
    fdiv.d fa0, fa1, fa2
    fsqrt.d fa0, fa1
    fsgnj.d fa0, fa1, fa2
    fsgnjn.d fa0, fa1, fa2
    fsgnjx.d fa0, fa1, fa2
    fmin.d fa0, fa1, fa2
    fmax.d fa0, fa1, fa2
    fcvt.s.d fa0, fa1
    fcvt.d.s fa0, fa1
    feq.d a0, fa1, fa2
    flt.d a0, fa1, fa2
    fle.d a0, fa1, fa2
    fclass.d a0, fa1
    fcvt.w.d a0, fa1
    fcvt.wu.d a0, fa1
    fcvt.l.d a0, fa1
    fcvt.lu.d a0, fa1
    fcvt.d.w fa0, a1
    fcvt.d.wu fa0, a1
    fcvt.d.l fa0, a1
    fcvt.d.lu fa0, a1
    fmv.x.d a0, fa1
    fmv.d.x fa0, a1
    add.uw a0, a1, a2
    sh1add a0, a1, a2
    sh2add a0, a1, a2
    sh3add a0, a1, a2
    sh1add.uw a0, a1, a2
    sh2add.uw a0, a1, a2
    sh3add.uw a0, a1, a2
    slli.uw a0, a1, 40
    andn a0, a1, a2
    orn a0, a1, a2
    xnor a0, a1, a2
    clz a0, a1
    clzw a0, a1
    ctz a0, a1
    ctzw a0, a1
    cpop a0, a1
    cpopw a0, a1
    max a0, a1, a2
    maxu a0, a1, a2
    min a0, a1, a2
    minu a0, a1, a2
    sext.b a0, a1
    sext.h a0, a1
    zext.h a0, a1
    rol a0, a1, a2
    rolw a0, a1, a2
    ror a0, a1, a2
    rorw a0, a1, a2
    rori a0, a1, 60
    roriw a0, a1, 20
    orc.b a0, a1
    rev8 a0, a1
    bclr a0, a1, a2
    bclri a0, a1, 63
    bext a0, a1, a2
    bexti a0, a1, 5
    binv a0, a1, a2
    binvi a0, a1, 7
    bset a0, a1, a2
    bseti a0, a1, 32
