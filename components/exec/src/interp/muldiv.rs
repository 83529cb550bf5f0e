//! M: the high-half multiplies and division with RISC-V's rules for division by zero and
//! overflow (RISC-V unpriv 13.2: no trap; x/0 = all ones, x%0 = x; MIN/-1 = MIN, MIN%-1 = 0).

// The high products. On wasm32 a u128 product is a call to compiler-rt's `__multi3`
// (a whole 128x128 multiply), which the interpreter's fast tier must not make, so there
// they are built from 32-bit halves (`mulhu_halves`); natively u128 is one instruction.
// The signed forms follow from the unsigned one: reading a negative operand as unsigned
// adds 2^64 times the other operand to the product, so its high half is that much more.

pub fn mulh(a: u64, b: u64) -> u64 {
    if cfg!(target_arch = "wasm32") {
        mulh_halves(a, b)
    } else {
        ((a as i64 as i128 * b as i64 as i128) >> 64) as u64
    }
}

pub fn mulhsu(a: u64, b: u64) -> u64 {
    if cfg!(target_arch = "wasm32") {
        mulhsu_halves(a, b)
    } else {
        ((a as i64 as i128 * b as i128) >> 64) as u64
    }
}

pub fn mulhu(a: u64, b: u64) -> u64 {
    if cfg!(target_arch = "wasm32") {
        mulhu_halves(a, b)
    } else {
        ((a as u128 * b as u128) >> 64) as u64
    }
}

#[inline(always)]
fn mulh_halves(a: u64, b: u64) -> u64 {
    mulhsu_halves(a, b).wrapping_sub(if (b as i64) < 0 { a } else { 0 })
}

#[inline(always)]
fn mulhsu_halves(a: u64, b: u64) -> u64 {
    mulhu_halves(a, b).wrapping_sub(if (a as i64) < 0 { b } else { 0 })
}

/// The high 64 bits of the 128-bit product, from four 32x32-bit products. (Written with
/// the carries as compares: LLVM recognises the textbook form, summing the middle words,
/// and turns it back into a u128 product, that is into `__multi3`.)
#[inline(always)]
fn mulhu_halves(a: u64, b: u64) -> u64 {
    let (a0, a1) = (a & 0xffff_ffff, a >> 32);
    let (b0, b1) = (b & 0xffff_ffff, b >> 32);
    let (p00, p01, p10, p11) = (a0 * b0, a0 * b1, a1 * b0, a1 * b1);
    // The cross products' sum, bits 32..97 of the product, with its carry at bit 96.
    let cross = p01.wrapping_add(p10);
    let cross_carry = (cross < p01) as u64;
    // The low half, and its carry into bit 64.
    let low = p00.wrapping_add(cross << 32);
    let low_carry = (low < p00) as u64;
    p11 + (cross >> 32) + (cross_carry << 32) + low_carry
}

pub fn div(a: u64, b: u64) -> u64 {
    if b == 0 {
        u64::MAX
    } else {
        (a as i64).wrapping_div(b as i64) as u64
    }
}

pub fn divu(a: u64, b: u64) -> u64 {
    a.checked_div(b).unwrap_or(u64::MAX)
}

pub fn rem(a: u64, b: u64) -> u64 {
    if b == 0 {
        a
    } else {
        (a as i64).wrapping_rem(b as i64) as u64
    }
}

pub fn remu(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { a % b }
}

/// Sign-extends a 32-bit result, as every *W instruction does.
pub fn sext32(v: u32) -> u64 {
    v as i32 as i64 as u64
}

pub fn divw(a: u64, b: u64) -> u64 {
    let (a, b) = (a as i32, b as i32);
    sext32(if b == 0 {
        u32::MAX
    } else {
        a.wrapping_div(b) as u32
    })
}

pub fn divuw(a: u64, b: u64) -> u64 {
    sext32((a as u32).checked_div(b as u32).unwrap_or(u32::MAX))
}

pub fn remw(a: u64, b: u64) -> u64 {
    let (a, b) = (a as i32, b as i32);
    sext32(if b == 0 {
        a as u32
    } else {
        a.wrapping_rem(b) as u32
    })
}

pub fn remuw(a: u64, b: u64) -> u64 {
    let (a, b) = (a as u32, b as u32);
    sext32(if b == 0 { a } else { a % b })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn division_edge_cases() {
        let min = i64::MIN as u64;
        assert_eq!(div(7, 0), u64::MAX);
        assert_eq!(rem(7, 0), 7);
        assert_eq!(div(min, -1i64 as u64), min);
        assert_eq!(rem(min, -1i64 as u64), 0);
        assert_eq!(divu(7, 0), u64::MAX);
        assert_eq!(remu(7, 0), 7);
        assert_eq!(divw(0x8000_0000, -1i64 as u64), 0xffff_ffff_8000_0000);
        assert_eq!(remw(0x8000_0000, -1i64 as u64), 0);
        assert_eq!(divuw(5, 0), u64::MAX);
        assert_eq!(remuw(0x1_8000_0000, 0), 0xffff_ffff_8000_0000);
        assert_eq!(mulhsu(-1i64 as u64, 2), u64::MAX);
        assert_eq!(mulhu(u64::MAX, u64::MAX), u64::MAX - 1);
    }

    /// The wasm32 forms against u128 products, on edge values and a pseudo-random walk.
    #[test]
    fn high_products_from_halves() {
        let edges = [
            0,
            1,
            2,
            0xffff_ffff,
            1 << 32,
            1 << 63,
            u64::MAX,
            i64::MAX as u64,
        ];
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        let mut vals = edges.to_vec();
        for _ in 0..200 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            vals.push(x);
        }
        for &a in &vals {
            for &b in &vals {
                let mulh = ((a as i64 as i128 * b as i64 as i128) >> 64) as u64;
                let mulhsu = ((a as i64 as i128 * b as i128) >> 64) as u64;
                let mulhu = ((a as u128 * b as u128) >> 64) as u64;
                assert_eq!(mulh_halves(a, b), mulh, "mulh {a:#x} {b:#x}");
                assert_eq!(mulhsu_halves(a, b), mulhsu, "mulhsu {a:#x} {b:#x}");
                assert_eq!(mulhu_halves(a, b), mulhu, "mulhu {a:#x} {b:#x}");
            }
        }
    }
}
