# Writes "hello, world" and exits 7: the smallest complete guest.
    .globl _start
_start:
    li a0, 1
    la a1, msg
    li a2, 13
    li a7, 64          # write
    ecall
    li a0, 7
    li a7, 93          # exit
    ecall
    .section .rodata
msg: .ascii "hello, world\n"
