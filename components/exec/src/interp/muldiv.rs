//! M: the high-half multiplies and division with RISC-V's rules for division by zero and
//! overflow (RISC-V unpriv 13.2: no trap; x/0 = all ones, x%0 = x; MIN/-1 = MIN, MIN%-1 = 0).

pub fn mulh(a: u64, b: u64) -> u64 {
    ((a as i64 as i128 * b as i64 as i128) >> 64) as u64
}

pub fn mulhsu(a: u64, b: u64) -> u64 {
    ((a as i64 as i128 * b as i128) >> 64) as u64
}

pub fn mulhu(a: u64, b: u64) -> u64 {
    ((a as u128 * b as u128) >> 64) as u64
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
}
