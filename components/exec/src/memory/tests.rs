use super::*;

fn rw() -> Prot {
    Prot::READ | Prot::WRITE
}

#[test]
fn map_read_write_protect() {
    let mut m = Memory::standalone();
    assert_eq!(m.map(0x1001, 4096, Prot::READ), Err(MapError::Invalid));
    assert_eq!(m.map(0x1000, 0, Prot::READ), Err(MapError::Invalid));
    assert_eq!(
        m.map(USER_TOP, 4096, Prot::READ),
        Err(MapError::OutOfMemory)
    );
    m.map(0x1000, 0x2000, rw()).unwrap();
    m.write(0x1ffe, &[1, 2, 3, 4]).unwrap();
    assert_eq!(m.load::<4>(0x1ffe).unwrap(), [1, 2, 3, 4]);
    let f = m.load::<8>(0x2ffc).unwrap_err();
    assert_eq!((f.addr, f.cause), (0x3000, FaultCause::Unmapped));
    m.protect(0x2000, 0x1000, Prot::NONE).unwrap();
    let f = m.load::<1>(0x2000).unwrap_err();
    assert_eq!(f.cause, FaultCause::Protection);
    assert_eq!(
        m.protect(0x2000, 0x2000, Prot::READ),
        Err(MapError::Invalid)
    );
    m.unmap(0x1000, 0x1000).unwrap();
    assert_eq!(m.load::<1>(0x1000).unwrap_err().cause, FaultCause::Unmapped);
    m.map(0x1000, 0x1000, Prot::READ).unwrap();
    assert_eq!(m.load::<4>(0x1ffc).unwrap(), [0; 4]);
}

#[test]
fn stores_through_the_tlb_and_after_protect() {
    let mut m = Memory::standalone();
    m.map(0x10000, 0x1000, rw()).unwrap();
    m.store(0x10008, 7u64.to_le_bytes()).unwrap();
    // Now a TLB hit both ways.
    m.store(0x10008, 9u64.to_le_bytes()).unwrap();
    assert_eq!(u64::from_le_bytes(m.load(0x10008).unwrap()), 9);
    m.protect(0x10000, 0x1000, Prot::READ).unwrap();
    let f = m.store(0x10008, 1u64.to_le_bytes()).unwrap_err();
    assert_eq!((f.cause, f.access), (FaultCause::Protection, Access::Store));
    assert_eq!(u64::from_le_bytes(m.load(0x10008).unwrap()), 9);
    // A misaligned store across a page boundary into a read-only page changes nothing.
    m.map(0x0f000, 0x1000, rw()).unwrap();
    let f = m.store(0x0fffc, [1u8; 8]).unwrap_err();
    assert_eq!(f.addr, 0x10000);
    assert_eq!(m.load::<4>(0x0fffc).unwrap(), [0; 4]);
}

#[test]
fn addresses_past_the_user_range_fault_and_unmap_nothing() {
    // At 2^44 and above a page number no longer fits 32 bits: on wasm32 these must not
    // wrap onto page 1. To run the unit tests on wasm32: `CARGO_TARGET_WASM32_WASIP2_RUNNER=
    // "wasmtime run" cargo test --target wasm32-wasip2 -p friscy-exec --lib`.
    let mut m = Memory::standalone();
    m.map(0x1000, 0x1000, rw()).unwrap();
    m.write(0x1000, &[7; 8]).unwrap();
    for far in [(1u64 << 44) + 0x1000, USER_TOP + 0x1000, u64::MAX - 7] {
        let f = m.load::<8>(far).unwrap_err();
        assert_eq!((f.addr, f.cause), (far, FaultCause::Unmapped));
        assert_eq!(m.store(far, [1u8; 8]).unwrap_err().addr, far);
        assert_eq!(m.read(far, &mut [0; 8]).unwrap_err().addr, far);
        // munmap of a range that wraps is EINVAL; of one past the user range, nothing.
        let r = m.unmap(far & !0xfff, 0x1000);
        assert_eq!(r.is_err(), far > u64::MAX - 0x1000);
    }
    let far = (1u64 << 44) + 0x1000;
    assert_eq!(m.protect(far, 0x1000, Prot::READ), Err(MapError::Invalid));
    assert_eq!(m.load::<8>(0x1000).unwrap(), [7; 8]);
    // High mappings work like low ones (V8 reserves at hinted high addresses).
    m.map(far, 0x1000, rw()).unwrap();
    m.store(far + 8, [5u8; 8]).unwrap();
    assert_eq!(m.load::<8>(far + 8).unwrap(), [5; 8]);
    assert_eq!(m.load::<8>(0x1000 + 8).unwrap(), [0; 8]);
}

#[test]
fn cstr() {
    let mut m = Memory::standalone();
    m.map(0, 0x2000, rw()).unwrap();
    m.write(0xffe, b"hello\0").unwrap();
    assert_eq!(m.read_cstr(0xffe, 100).unwrap(), b"hello");
    assert_eq!(m.read_cstr(0xffe, 3).unwrap(), b"hel");
    m.write(0x1ff0, &[b'x'; 16]).unwrap();
    assert_eq!(m.read_cstr(0x1ff0, 100).unwrap_err().addr, 0x2000);
}

#[test]
fn reservations_and_reads_cost_no_frames() {
    let mut m = Memory::standalone();
    // 64 GiB of PROT_NONE and 1 GiB of read-write memory, then read all over it.
    m.map(0x10_0000_0000, 64 << 30, Prot::NONE).unwrap();
    m.map(0x1_0000_0000, 1 << 30, rw()).unwrap();
    for i in 0..1000u64 {
        assert_eq!(m.load::<8>(0x1_0000_0000 + i * 0x10_0000).unwrap(), [0; 8]);
    }
    assert_eq!(m.phys().borrow().frames.in_use(), 0);
    assert_eq!(
        m.load::<1>(0x10_0000_0000).unwrap_err().cause,
        FaultCause::Protection
    );
    m.store(0x1_0000_0000, [1u8]).unwrap();
    assert_eq!(m.phys().borrow().frames.in_use(), 1);
    // Unmapping the reservation walks nothing.
    m.unmap(0x10_0000_0000, 64 << 30).unwrap();
    m.unmap(0, USER_TOP).unwrap();
    assert_eq!(m.phys().borrow().frames.in_use(), 0);
}

#[test]
fn fork_shares_frames_copy_on_write() {
    let mut parent = Memory::standalone();
    parent.map(0x1000, 0x4000, rw()).unwrap();
    parent.store(0x1000, 1u64.to_le_bytes()).unwrap();
    parent.store(0x2000, 2u64.to_le_bytes()).unwrap();
    let phys = parent.phys().clone();
    assert_eq!(phys.borrow().frames.in_use(), 2);
    let mut child = parent.fork();
    assert_eq!(phys.borrow().frames.in_use(), 2, "fork copies no page");
    assert_eq!(u64::from_le_bytes(child.load(0x1000).unwrap()), 1);
    // The parent's TLB had a write entry for 0x1000: fork must have dropped it.
    parent.store(0x1000, 10u64.to_le_bytes()).unwrap();
    assert_eq!(phys.borrow().frames.in_use(), 3);
    assert_eq!(u64::from_le_bytes(child.load(0x1000).unwrap()), 1);
    assert_eq!(u64::from_le_bytes(parent.load(0x1000).unwrap()), 10);
    child.store(0x2000, 20u64.to_le_bytes()).unwrap();
    assert_eq!(u64::from_le_bytes(parent.load(0x2000).unwrap()), 2);
    assert_eq!(u64::from_le_bytes(child.load(0x2000).unwrap()), 20);
    assert_eq!(phys.borrow().frames.in_use(), 4);
    drop(child);
    assert_eq!(phys.borrow().frames.in_use(), 2);
    // The last owner writes in place.
    parent.store(0x2000, 3u64.to_le_bytes()).unwrap();
    assert_eq!(phys.borrow().frames.in_use(), 2);
}

#[test]
fn running_out_of_frames_is_a_fault_not_an_abort() {
    let mut m = Memory::standalone();
    m.phys().borrow_mut().frames.set_limit(4);
    m.map(0x10000, 0x10000, rw()).unwrap();
    for i in 0..4 {
        m.store(0x10000 + i * 0x1000, [1u8]).unwrap();
    }
    let f = m.store(0x14000, [1u8]).unwrap_err();
    assert_eq!((f.addr, f.cause), (0x14000, FaultCause::OutOfMemory));
    assert_eq!(
        m.write(0x13ff0, &[2u8; 32]).unwrap_err().cause,
        FaultCause::OutOfMemory
    );
    // Nothing was written on the first page either.
    assert_eq!(m.load::<1>(0x13ff0).unwrap(), [0]);
    // Reads still work.
    assert_eq!(m.load::<1>(0x15000).unwrap(), [0]);
}

#[test]
fn code_pages_queue_invalidations_on_store() {
    let mut m = Memory::standalone();
    m.map(0x1000, 0x1000, Prot::READ | Prot::WRITE | Prot::EXEC)
        .unwrap();
    m.write(0x1000, &[0x13, 0, 0, 0]).unwrap();
    m.fetch16(0x1000).unwrap();
    m.mark_code(0x1000);
    assert!(m.invalidated.is_empty());
    m.store(0x1004, [1u8; 4]).unwrap();
    assert_eq!(m.invalidated, vec![1]);
    m.invalidated.clear();
    // The mark is gone until the page is decoded again.
    m.store(0x1008, [1u8; 4]).unwrap();
    assert!(m.invalidated.is_empty());
}

/// Two spaces of one machine, sharing physical memory.
fn two_spaces() -> (Memory, Memory) {
    let a = Memory::standalone();
    let b = Memory::new(a.phys().clone());
    (a, b)
}

#[test]
fn shared_objects_are_coherent_between_spaces_and_within_one() {
    let (mut a, mut b) = two_spaces();
    let obj = a.phys().borrow_mut().objects.create(2);
    a.map_object(0x10000, 0x2000, rw(), obj, 0, true).unwrap();
    b.map_object(0x40000, 0x1000, rw(), obj, 1, true).unwrap();
    // A second mapping of the same page in the same space.
    a.map_object(0x20000, 0x1000, rw(), obj, 1, true).unwrap();
    a.store(0x11008, 7u64.to_le_bytes()).unwrap();
    assert_eq!(u64::from_le_bytes(b.load(0x40008).unwrap()), 7);
    assert_eq!(u64::from_le_bytes(a.load(0x20008).unwrap()), 7);
    b.store(0x40008, 8u64.to_le_bytes()).unwrap();
    assert_eq!(u64::from_le_bytes(a.load(0x11008).unwrap()), 8);
    // The kernel's view (msync) sees the same bytes.
    {
        let p = a.phys().borrow();
        assert_eq!(
            p.objects.read(obj, 4096 + 8, 8, &p.frames).unwrap(),
            8u64.to_le_bytes()
        );
    }
    // A fork keeps sharing, it does not copy.
    let mut c = a.fork();
    c.store(0x11008, 9u64.to_le_bytes()).unwrap();
    assert_eq!(u64::from_le_bytes(b.load(0x40008).unwrap()), 9);
    // Past the object's end: a fault.
    b.map_object(0x50000, 0x2000, rw(), obj, 1, true).unwrap();
    assert_eq!(
        b.load::<1>(0x51000).unwrap_err().cause,
        FaultCause::Unmapped
    );
}

#[test]
fn private_object_mappings_copy_on_write() {
    let (mut a, mut b) = two_spaces();
    let obj = {
        let mut p = a.phys().borrow_mut();
        let Physical { frames, objects } = &mut *p;
        let o = objects.create(1);
        objects.write(o, 0, b"library text", frames).unwrap();
        o
    };
    a.map_object(0x10000, 0x1000, rw(), obj, 0, false).unwrap();
    b.map_object(0x10000, 0x1000, Prot::READ, obj, 0, false)
        .unwrap();
    assert_eq!(&a.load::<8>(0x10000).unwrap(), b"library ");
    assert_eq!(
        a.phys().borrow().frames.in_use(),
        1,
        "both map the object's frame"
    );
    a.store(0x10000, *b"LIBRARY ").unwrap();
    assert_eq!(&a.load::<8>(0x10000).unwrap(), b"LIBRARY ");
    assert_eq!(&b.load::<8>(0x10000).unwrap(), b"library ");
    assert_eq!(a.phys().borrow().frames.in_use(), 2);
    // Dropping the object leaves mapped pages alive.
    {
        let mut p = a.phys().borrow_mut();
        let Physical { frames, objects } = &mut *p;
        objects.drop_object(obj, frames);
    }
    assert_eq!(&b.load::<8>(0x10000).unwrap(), b"library ");
    drop(b);
    assert_eq!(a.phys().borrow().frames.in_use(), 1);
}
