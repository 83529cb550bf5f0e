//! The `Machine` API's contract: stop reasons and where pc points, faults without side
//! effects, budgets, decode-cache invalidation, fork, CSRs and rounding-mode traps.

mod common;

use std::process::Command;

use friscy_exec::{
    Access, Fault, FaultCause, Machine, Machines, MapError, Prot, Registers, StopReason, Syscall,
};

const CODE: u64 = 0x10000;
const DATA: u64 = 0x20000;

/// Assembles and links a snippet at `CODE`; returns its raw bytes.
fn assemble(src: &str) -> Vec<u8> {
    let dir = std::env::temp_dir().join(format!("friscy-machine-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let tag = format!(
        "{:x}",
        src.len() * 31 + src.bytes().map(|b| b as usize).sum::<usize>()
    );
    let (s, o, b) = (
        dir.join(format!("{tag}.S")),
        dir.join(format!("{tag}.o")),
        dir.join(format!("{tag}.bin")),
    );
    std::fs::write(&s, format!(".text\n.option norvc\n{src}\n")).unwrap();
    let ok = Command::new("riscv64-linux-gnu-as")
        .args(["-march=rv64gc_zba_zbb_zbs", "-o"])
        .arg(&o)
        .arg(&s)
        .status()
        .unwrap()
        .success();
    assert!(ok, "assembling {src}");
    // Link at CODE so pc-relative references resolve.
    let e = dir.join(format!("{tag}.elf"));
    let ok = Command::new("riscv64-linux-gnu-ld")
        .args(["--no-relax", "-Ttext=0x10000", "-e", "0x10000", "-o"])
        .arg(&e)
        .arg(&o)
        .status()
        .unwrap()
        .success();
    assert!(ok, "linking {src}");
    let ok = Command::new("riscv64-linux-gnu-objcopy")
        .args(["-O", "binary", "-j", ".text"])
        .arg(&e)
        .arg(&b)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    std::fs::read(&b).unwrap()
}

/// A machine with `src` at `CODE` (r-x), a data page at `DATA` (rw-), pc at `CODE`.
fn setup(src: &str) -> (Machines, u32, u32) {
    let code = assemble(src);
    let mut m = Machines::new();
    let s = m.space_new();
    let len = (code.len() as u64 + 4095) & !4095;
    m.map(s, CODE, len, Prot::READ | Prot::WRITE).unwrap();
    m.write(s, CODE, &code).unwrap();
    m.protect(s, CODE, len, Prot::READ | Prot::EXEC).unwrap();
    m.map(s, DATA, 4096, Prot::READ | Prot::WRITE).unwrap();
    let h = m.hart_new(s);
    m.set_pc(h, CODE);
    (m, s, h)
}

#[test]
fn ecall_returns_syscall_with_pc_past_it() {
    let (mut m, _, h) = setup("li a7, 64\n li a0, 1\n li a1, 2\n li a5, 6\n ecall\n ebreak");
    let r = m.run(h, 100);
    assert_eq!(
        r,
        StopReason::Ecall(Syscall {
            nr: 64,
            args: [1, 2, 0, 0, 0, 6]
        })
    );
    assert_eq!(m.pc(h), CODE + 4 * 4 + 4);
    assert_eq!(m.instret(h), 5);
    // ebreak: pc at it.
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!(m.pc(h), CODE + 20);
}

#[test]
fn compressed_ebreak_and_illegal_report_pc_and_bits() {
    let (mut m, _, h) = setup(".option rvc\n c.li a0, 3\n c.ebreak\n .half 0\n .word 0x30200073");
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!(m.pc(h), CODE + 2);
    m.set_pc(h, CODE + 4);
    assert_eq!(m.run(h, 100), StopReason::IllegalInstruction(0));
    assert_eq!(m.pc(h), CODE + 4);
    m.set_pc(h, CODE + 6);
    // mret is not a user instruction.
    assert_eq!(m.run(h, 100), StopReason::IllegalInstruction(0x3020_0073));
    assert_eq!(m.pc(h), CODE + 6);
    assert_eq!(m.x(h, 10), 3);
}

#[test]
fn load_fault_has_no_side_effects() {
    let (mut m, _, h) = setup("li a0, 5\n li t0, 0x40000\n ld a0, 8(t0)\n li a0, 6");
    let r = m.run(h, 100);
    let f = Fault {
        addr: 0x40008,
        access: Access::Load,
        cause: FaultCause::Unmapped,
    };
    assert_eq!(r, StopReason::Fault(f));
    assert_eq!(m.pc(h), CODE + 8);
    assert_eq!(m.x(h, 10), 5);
    assert_eq!(m.instret(h), 2);
}

#[test]
fn store_and_fetch_faults() {
    // Store into the read-only code page: a protection fault.
    let (mut m, _, h) = setup("li t0, 0x10000\n sd t0, 0(t0)");
    let f = Fault {
        addr: CODE,
        access: Access::Store,
        cause: FaultCause::Protection,
    };
    assert_eq!(m.run(h, 100), StopReason::Fault(f));
    assert_eq!(m.pc(h), CODE + 4);
    // A jump into data: fetch from a non-executable page.
    let (mut m, _, h) = setup("li t0, 0x20000\n jr t0");
    let f = Fault {
        addr: DATA,
        access: Access::Fetch,
        cause: FaultCause::Protection,
    };
    assert_eq!(m.run(h, 100), StopReason::Fault(f));
    assert_eq!(m.pc(h), DATA);
    // A misaligned store straddling into an unmapped page faults at the first bad byte.
    let (mut m, _, h) = setup("li t0, 0x20ffd\n sw t0, 0(t0)");
    let f = Fault {
        addr: DATA + 4096,
        access: Access::Store,
        cause: FaultCause::Unmapped,
    };
    assert_eq!(m.run(h, 100), StopReason::Fault(f));
    let mut b = [0; 4];
    m.read(0, DATA + 4093, &mut b[..3]).unwrap();
    assert_eq!(b, [0; 4]);
}

#[test]
fn instructions_straddling_a_page_end() {
    // A 4-byte instruction at the last parcel of a page: its high half comes from the
    // next page (decoding reads a block's own page directly, the rest by translation).
    let src = "j 1f\n .org 4090\n 1: addi a0, a0, 1\n addi a0, a0, 2\n addi a0, a0, 4\n ebreak";
    let (mut m, _, h) = setup(src);
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!(m.x(h, 10), 7);
    assert_eq!(m.pc(h), CODE + 4102);
    // The next page not executable, or not mapped: the fetch of the high half faults
    // there, with pc at the instruction and nothing of it done.
    for cause in [FaultCause::Protection, FaultCause::Unmapped] {
        let (mut m, s, h) = setup(src);
        match cause {
            FaultCause::Protection => m.protect(s, CODE + 4096, 4096, Prot::READ).unwrap(),
            _ => m.unmap(s, CODE + 4096, 4096).unwrap(),
        }
        let f = Fault {
            addr: CODE + 4096,
            access: Access::Fetch,
            cause,
        };
        assert_eq!(m.run(h, 100), StopReason::Fault(f), "{cause:?}");
        assert_eq!(m.pc(h), CODE + 4094);
        assert_eq!(m.x(h, 10), 1);
        assert_eq!(m.instret(h), 2);
    }
}

#[test]
fn misaligned_access_works() {
    let (mut m, s, h) =
        setup("li t0, 0x20003\n li t1, 0x1122334455667788\n sd t1, 0(t0)\n lw a0, 1(t0)\n ebreak");
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!(m.x(h, 10), 0x4455_6677);
    let mut b = [0; 8];
    m.read(s, DATA + 3, &mut b).unwrap();
    assert_eq!(u64::from_le_bytes(b), 0x1122_3344_5566_7788);
}

#[test]
fn budget_bounds_execution() {
    let (mut m, _, h) = setup("1: addi a0, a0, 1\n j 1b");
    assert_eq!(m.run(h, 1001), StopReason::BudgetExhausted);
    assert_eq!(m.instret(h), 1001);
    assert_eq!(m.x(h, 10), 501);
    assert_eq!(m.run(h, 0), StopReason::BudgetExhausted);
    assert_eq!(m.instret(h), 1001);
    assert_eq!(m.run(h, 1), StopReason::BudgetExhausted);
    assert_eq!(m.instret(h), 1002);
}

/// Superinstructions (`Op::pair`): two adjacent instructions run with one dispatch in the
/// fast tier, but each still retires on its own (budgets, stops between them).
#[test]
fn superinstructions_retire_one_instruction_at_a_time() {
    // addi+addi pairs: a budget can end between the two.
    let (mut m, _, h) = setup("addi a0, a0, 1\n addi a0, a0, 2\n addi a0, a0, 4\n ebreak");
    assert_eq!(m.run(h, 1), StopReason::BudgetExhausted);
    assert_eq!((m.x(h, 10), m.pc(h), m.instret(h)), (1, CODE + 4, 1));
    assert_eq!(m.run(h, 1), StopReason::BudgetExhausted);
    assert_eq!((m.x(h, 10), m.pc(h), m.instret(h)), (3, CODE + 8, 2));
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!((m.x(h, 10), m.instret(h)), (7, 3));
    // The second half's load misses the TLB (the page's first access) and leaves the fast
    // tier: the first half has retired and must not run again. (The jump makes the pair
    // the first instruction of a block.)
    let pair = "j 1f\n 1: addi a1, a1, 1\n ld a2, 8(t0)\n ebreak";
    let (mut m, _, h) = setup(&format!("lui t0, 0x20\n li a2, 7\n {pair}"));
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!((m.x(h, 11), m.x(h, 12), m.instret(h)), (1, 0, 5));
    // The second half faults: the first has retired, pc is the second's.
    let (mut m, _, h) = setup(&format!("lui t0, 0x40\n {pair}"));
    let f = Fault {
        addr: 0x40008,
        access: Access::Load,
        cause: FaultCause::Unmapped,
    };
    assert_eq!(m.run(h, 100), StopReason::Fault(f));
    assert_eq!((m.x(h, 11), m.pc(h), m.instret(h)), (1, CODE + 12, 3));
}

/// An indirect call whose target changes every time (its block's link remembers only the
/// last one) goes on in the fast tier through the front cache, within the budget: slices
/// of any size retire exactly their budget and end where one long run does.
#[test]
fn indirect_jumps_to_changing_targets_respect_budgets() {
    let src = "la t1, 2f\n la t2, 3f\n li s0, 50\n\
               1: jalr ra, 0(t1)\n mv t3, t1\n mv t1, t2\n mv t2, t3\n\
               addi s0, s0, -1\n bnez s0, 1b\n ebreak\n\
               2: addi a0, a0, 1\n ret\n\
               3: addi a0, a0, 100\n addi a1, a1, 1\n ret";
    let (mut m, _, h) = setup(src);
    assert_eq!(m.run(h, 1 << 20), StopReason::Breakpoint);
    let (total, a0, a1) = (m.instret(h), m.x(h, 10), m.x(h, 11));
    assert_eq!((a0, a1), (25 + 25 * 100, 25));
    for slice in 1..=13 {
        let (mut m, _, h) = setup(src);
        loop {
            let before = m.instret(h);
            match m.run(h, slice) {
                StopReason::BudgetExhausted => assert_eq!(m.instret(h), before + slice),
                StopReason::Breakpoint => {
                    assert!(m.instret(h) <= before + slice, "slice {slice} overran");
                    break;
                }
                other => panic!("slice {slice}: {other:?}"),
            }
        }
        assert_eq!(
            (m.instret(h), m.x(h, 10), m.x(h, 11)),
            (total, a0, a1),
            "slice {slice}"
        );
    }
}

#[test]
fn self_modifying_code_matches_qemu() {
    let bin = common::build("asm/selfmod.S");
    let mut g = common::load(&bin);
    assert_eq!(g.run_to_exit(), 12);
    assert_eq!(common::qemu(&bin).1, 12);
}

#[test]
fn kernel_write_into_code_invalidates_decoded_blocks() {
    let (mut m, s, h) = setup("li a0, 1\n ebreak");
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!(m.x(h, 10), 1);
    // Replace `li a0, 1` (c.li) by `li a0, 9` through mprotect + write, as a loader would.
    let new = assemble("li a0, 9");
    m.protect(s, CODE, 4096, Prot::READ | Prot::WRITE | Prot::EXEC)
        .unwrap();
    m.write(s, CODE, &new).unwrap();
    m.set_pc(h, CODE);
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!(m.x(h, 10), 9);
}

#[test]
fn guest_store_into_executed_code_is_seen_without_fence() {
    // The guest patches code it has already run (its page is rwx), then jumps back to it.
    let src = "
        la t0, target
        li t2, 0
    again:
        jal ra, target
        bnez t2, done
        li t2, 1
        lw t1, repl
        sw t1, 0(t0)
        j again
    done:
        ebreak
    target:
        li a0, 1
        ret
        .p2align 2
    repl:
        li a0, 7";
    let code = assemble(src);
    let mut m = Machines::new();
    let s = m.space_new();
    m.map(s, CODE, 4096, Prot::READ | Prot::WRITE | Prot::EXEC)
        .unwrap();
    m.write(s, CODE, &code).unwrap();
    let h = m.hart_new(s);
    m.set_pc(h, CODE);
    assert_eq!(m.run(h, 1000), StopReason::Breakpoint);
    assert_eq!(m.x(h, 10), 7);
}

#[test]
fn unmap_and_remap_executable_pages() {
    let (mut m, s, h) = setup("li a0, 1\n ebreak");
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    m.unmap(s, CODE, 4096).unwrap();
    m.set_pc(h, CODE);
    let f = Fault {
        addr: CODE,
        access: Access::Fetch,
        cause: FaultCause::Unmapped,
    };
    assert_eq!(m.run(h, 100), StopReason::Fault(f));
    m.map(s, CODE, 4096, Prot::READ | Prot::WRITE | Prot::EXEC)
        .unwrap();
    m.write(s, CODE, &assemble("li a0, 4\n ebreak")).unwrap();
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!(m.x(h, 10), 4);
}

#[test]
fn fork_copies_memory_independently() {
    let (mut m, s, h) = setup("li t0, 0x20000\n ld a0, 0(t0)\n ebreak");
    m.write(s, DATA, &5u64.to_le_bytes()).unwrap();
    let c = m.space_fork(s);
    m.write(c, DATA, &6u64.to_le_bytes()).unwrap();
    let hc = m.hart_new(c);
    m.set_pc(hc, CODE);
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!(m.run(hc, 100), StopReason::Breakpoint);
    assert_eq!((m.x(h, 10), m.x(hc, 10)), (5, 6));
    m.hart_drop(hc);
    m.space_drop(c);
}

/// A page cache's object: its pages fault with `NotFilled` until written (also for the
/// kernel's own copies and for instruction fetch), `object_at` names the page to fill,
/// and an object dropped while mapped keeps serving its mappings (its id too) until
/// nothing maps it.
#[test]
fn unfilled_object_pages_fault_until_written_and_outlive_their_drop() {
    let (mut m, s, h) = setup("li t0, 0x41008\n ld a0, 0(t0)\n ebreak");
    const FILE: u64 = 0x40000;
    let obj = m.obj_create_unfilled(3);
    m.map_object(s, FILE, 3 * 4096, Prot::READ, obj, 0, false)
        .unwrap();
    assert_eq!(
        m.run(h, 100),
        StopReason::Fault(Fault {
            addr: 0x41008,
            access: Access::Load,
            cause: FaultCause::NotFilled,
        })
    );
    assert_eq!(m.pc(h), CODE + 8, "the load did not retire");
    assert_eq!(m.object_at(s, 0x41008), Some((obj, 1)));
    assert_eq!(m.object_at(s, DATA), None);
    let mut buf = [0; 8];
    assert_eq!(
        m.read(s, 0x41008, &mut buf).unwrap_err().cause,
        FaultCause::NotFilled
    );
    // The kernel fills page 1 (a partial write: the rest of the page reads as zero).
    m.obj_write(obj, 4096 + 8, &42u64.to_le_bytes()).unwrap();
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!(m.x(h, 10), 42);
    m.read(s, 0x41000, &mut buf).unwrap();
    assert_eq!(buf, [0; 8]);
    // A second mapping of it, in a fork; the owner drops it: pages already filled stay,
    // page 2 still faults and can still be filled, and the id is not handed out again.
    let c = m.space_fork(s);
    m.obj_drop(obj);
    assert_eq!(
        m.read(c, 0x42000, &mut buf).unwrap_err().cause,
        FaultCause::NotFilled
    );
    assert_eq!(m.object_at(c, 0x42000), Some((obj, 2)));
    m.obj_write(obj, 2 * 4096, b"filled!!").unwrap();
    m.read(c, 0x42000, &mut buf).unwrap();
    assert_eq!(&buf, b"filled!!");
    let other = m.obj_create(1);
    assert_ne!(other, obj);
    assert_eq!(
        m.map_object(s, 0x50000, 4096, Prot::READ, obj, 0, false),
        Err(MapError::Invalid),
        "a dropped object cannot be mapped again"
    );
    // Page 0 was never filled: after the drop it still faults for the kernel to fill.
    assert_eq!(
        m.read(s, FILE, &mut buf).unwrap_err().cause,
        FaultCause::NotFilled
    );
    // Once nothing maps it, the object is gone and its id free again.
    m.unmap(s, FILE, 3 * 4096).unwrap();
    assert_eq!(m.object_at(c, 0x42000), Some((obj, 2)));
    m.hart_drop(h);
    m.space_drop(c);
    assert_eq!(m.obj_create(1), obj);
}

/// Filling an object is all or nothing: when frames run out part way, the pages it did
/// not get to stay unfilled (they fault for the kernel again), none become zero pages.
#[test]
fn a_fill_that_runs_out_of_memory_changes_no_page() {
    let mut m = Machines::new();
    let s = m.space_new();
    let obj = m.obj_create_unfilled(8);
    m.map_object(s, 0x10000, 8 * 4096, Prot::READ, obj, 0, false)
        .unwrap();
    m.set_memory_limit(m.memory_in_use() + 3 * 4096);
    assert_eq!(
        m.obj_write(obj, 0, &[7; 5 * 4096]),
        Err(MapError::OutOfMemory)
    );
    assert_eq!(m.memory_in_use() % 4096, 0);
    let mut b = [0; 1];
    for page in 0..5 {
        assert_eq!(
            m.read(s, 0x10000 + page * 4096, &mut b).unwrap_err().cause,
            FaultCause::NotFilled,
            "page {page}"
        );
    }
    m.obj_write(obj, 0, &[7; 3 * 4096]).unwrap();
    m.read(s, 0x12000, &mut b).unwrap();
    assert_eq!(b, [7]);
}

/// Growing an unfilled object adds unfilled pages; a zero object's pages read as zero.
#[test]
fn object_growth_keeps_its_kind() {
    let mut m = Machines::new();
    let s = m.space_new();
    let file = m.obj_create_unfilled(1);
    let shm = m.obj_create(1);
    m.obj_resize(file, 2).unwrap();
    m.obj_resize(shm, 2).unwrap();
    m.map_object(s, 0x10000, 8192, Prot::READ, file, 0, false)
        .unwrap();
    m.map_object(s, 0x20000, 8192, Prot::READ, shm, 0, true)
        .unwrap();
    let mut buf = [1; 4];
    assert_eq!(
        m.read(s, 0x11000, &mut buf).unwrap_err().cause,
        FaultCause::NotFilled
    );
    m.read(s, 0x21000, &mut buf).unwrap();
    assert_eq!(buf, [0; 4]);
    // Reading the object itself sees unfilled pages as zero.
    let mut raw = [1; 4];
    m.obj_read(file, 4096, &mut raw).unwrap();
    assert_eq!(raw, [0; 4]);
}

#[test]
fn map_errors() {
    let mut m = Machines::new();
    let s = m.space_new();
    assert_eq!(m.map(s, 0x1234, 4096, Prot::READ), Err(MapError::Invalid));
    assert_eq!(m.map(s, 0x1000, 0, Prot::READ), Err(MapError::Invalid));
    assert_eq!(m.map(s, !4095, 8192, Prot::READ), Err(MapError::Invalid));
    // The whole Sv48 user range can be mapped (reservations cost no memory); above it,
    // nothing.
    assert_eq!(m.map(s, 1 << 40, 4096, Prot::READ), Ok(()));
    assert_eq!(
        m.map(s, 1 << 47, 4096, Prot::READ),
        Err(MapError::OutOfMemory)
    );
    assert_eq!(
        m.protect(s, 0x1000, 4096, Prot::READ),
        Err(MapError::Invalid)
    );
    assert_eq!(m.unmap(s, 0x1000, 4096), Ok(()));
    assert!(Prot(7).contains(Prot::READ | Prot::EXEC));
}

#[test]
fn lr_sc_reservation() {
    let src = "
        li t0, 0x20000
        li t1, 42
        lr.d a0, (t0)
        sc.d a1, t1, (t0)
        sc.d a2, t1, (t0)
        lr.w a3, (t0)
        ebreak
        sc.w a4, t1, (t0)
        ebreak";
    let (mut m, _, h) = setup(src);
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!((m.x(h, 11), m.x(h, 12), m.x(h, 13)), (0, 1, 42));
    // A new run drops the reservation (as Linux does on return to user space).
    m.set_pc(h, m.pc(h) + 4);
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!(m.x(h, 14), 1);
}

#[test]
fn csrs_and_counters() {
    let src = "
        fsrmi a0, 3
        frrm a1
        csrrwi a2, fflags, 0x1f
        frcsr a3
        rdinstret a4
        rdcycle a5
        rdtime a6
        ebreak
        csrr a0, mstatus
        csrw cycle, a0";
    let (mut m, _, h) = setup(src);
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    let r = m.registers(h);
    assert_eq!(&r.x[10..14], &[0, 3, 0, 0x7f]);
    assert_eq!(r.x[14], 4);
    assert_eq!(r.fcsr, 0x7f);
    // mstatus and writes to read-only counters are illegal.
    m.set_pc(h, m.pc(h) + 4);
    assert!(matches!(m.run(h, 100), StopReason::IllegalInstruction(_)));
    m.set_pc(h, m.pc(h) + 4);
    assert!(matches!(m.run(h, 100), StopReason::IllegalInstruction(_)));
}

#[test]
fn invalid_rounding_mode_is_illegal() {
    let (mut m, _, h) =
        setup("fsrmi 5\n fadd.d fa0, fa0, fa0\n fadd.d fa0, fa0, fa0, rtz\n ebreak");
    let bits = assemble("fadd.d fa0, fa0, fa0");
    let word = u32::from_le_bytes(bits[..4].try_into().unwrap());
    assert_eq!(m.run(h, 100), StopReason::IllegalInstruction(word));
    assert_eq!(m.pc(h), CODE + 4);
    // Static modes still work with an invalid frm.
    m.set_pc(h, CODE + 8);
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
}

#[test]
fn registers_round_trip_and_x0_is_zero() {
    let (mut m, _, h) = setup("addi zero, zero, 5\n add a0, zero, zero\n ebreak");
    let mut r = Registers {
        x: [7; 32],
        f: [9; 32],
        pc: CODE,
        fcsr: 0x25,
    };
    m.set_registers(h, &r);
    r.x[0] = 0;
    assert_eq!(m.registers(h), r);
    m.set_x(h, 0, 3);
    assert_eq!(m.x(h, 0), 0);
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!(m.x(h, 10), 0);
    assert_eq!(m.x(h, 0), 0);
}

#[test]
fn nan_boxing() {
    // An f32 op on an improperly boxed value sees the canonical NaN; flw boxes.
    let src = "
        li t0, 0x3f800000
        fmv.d.x fa0, t0
        fadd.s fa1, fa0, fa0
        fmv.x.d a0, fa1
        fmv.w.x fa2, t0
        fmv.x.d a1, fa2
        fclass.s a2, fa0
        ebreak";
    let (mut m, _, h) = setup(src);
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!(m.x(h, 10), 0xffff_ffff_7fc0_0000);
    assert_eq!(m.x(h, 11), 0xffff_ffff_3f80_0000);
    assert_eq!(m.x(h, 12), 1 << 9);
}

#[test]
fn ctzw_of_zero_word_is_32() {
    let (mut m, _, h) = setup("li t0, 1\n slli t0, t0, 63\n ctzw a0, t0\n ebreak");
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    assert_eq!(m.x(h, 10), 32);
}

/// jalr and lr write rd after reading rs1, which may be the same register (the
/// interpreter reads operands lazily, so each arm must read them first).
#[test]
fn jalr_and_lr_read_rs1_before_writing_rd() {
    let src = "
        la ra, 1f
        jalr ra, 0(ra)
        ebreak
    1:  mv s0, ra
        li t0, 0x20000
        li t1, 7
        sd t1, 0(t0)
        mv t2, t0
        lr.d t0, (t0)
        sc.d a0, t1, (t2)
        ebreak";
    let (mut m, _, h) = setup(src);
    assert_eq!(m.run(h, 100), StopReason::Breakpoint);
    // ra held the target and then the link: pc of the jalr (CODE + 8) + 4.
    assert_eq!(m.x(h, 8), CODE + 12);
    // The reservation is on 0x20000 (rs1), not on the loaded value 7 (rd): sc succeeds.
    assert_eq!(m.x(h, 5), 7);
    assert_eq!(m.x(h, 10), 0);
}

/// Rough interpreter speed (run with `cargo test --release -- --ignored --nocapture`).
#[test]
#[ignore]
fn speed() {
    let src = "
        li t0, 0x20000
        li t1, 50000000
    1:  ld a0, 0(t0)
        addi a0, a0, 3
        sd a0, 0(t0)
        xor a1, a1, a0
        addi t1, t1, -1
        bnez t1, 1b
        ebreak";
    let (mut m, _, h) = setup(src);
    let start = std::time::Instant::now();
    loop {
        match m.run(h, 10_000_000) {
            StopReason::BudgetExhausted => {}
            StopReason::Breakpoint => break,
            other => panic!("{other:?}"),
        }
    }
    let secs = start.elapsed().as_secs_f64();
    let n = m.instret(h);
    println!(
        "{n} instructions in {secs:.2}s: {:.0} MIPS",
        n as f64 / secs / 1e6
    );
}
