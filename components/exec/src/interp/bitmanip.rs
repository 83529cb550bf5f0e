//! Zba / Zbb / Zbs helpers that are more than one operator (RISC-V unpriv chapter 28).

/// orc.b: each byte becomes 0xff if any of its bits is set, else 0x00.
pub fn orc_b(v: u64) -> u64 {
    let mut r = 0;
    for i in 0..8 {
        if (v >> (i * 8)) & 0xff != 0 {
            r |= 0xff << (i * 8);
        }
    }
    r
}

/// rorw / roriw / rolw: rotate the low word, sign-extend.
pub fn rorw(v: u64, n: u64) -> u64 {
    (v as u32).rotate_right(n as u32 & 31) as i32 as i64 as u64
}

pub fn rolw(v: u64, n: u64) -> u64 {
    (v as u32).rotate_left(n as u32 & 31) as i32 as i64 as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helpers() {
        assert_eq!(orc_b(0x0100_2000_0000_0003), 0xff00_ff00_0000_00ff);
        assert_eq!(rorw(0x1, 1), 0xffff_ffff_8000_0000);
        assert_eq!(rolw(0x8000_0000, 1), 1);
    }
}
