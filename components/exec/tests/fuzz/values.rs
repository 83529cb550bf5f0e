//! Random values for the fuzzer: a seedable generator, and operands chosen to hit the edge
//! cases of every integer and floating-point operation.

/// splitmix64: small, seedable and good enough for test generation.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }
    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + self.below((hi - lo + 1) as u64) as i64
    }
    /// True with probability `pct` percent.
    pub fn chance(&mut self, pct: u64) -> bool {
        self.below(100) < pct
    }
    pub fn pick<T: Copy>(&mut self, s: &[T]) -> T {
        s[self.below(s.len() as u64) as usize]
    }
}

// Interesting operands. Integers: the boundaries every ALU, shift, division and conversion
// has; floats: signed zeros, infinities, quiet/signaling NaNs with and without payloads,
// subnormals, the normal range's ends, halfway cases for rounding, and the edges of every
// fcvt's integer range.
const X_SPECIAL: &[u64] = &[
    0,
    1,
    2,
    3,
    0x7f,
    0x80,
    0xff,
    0x7fff,
    0x8000,
    0xffff,
    0x7fff_ffff,
    0x8000_0000,
    0xffff_ffff,
    0x1_0000_0000,
    0x1_0000_0001,
    0xffff_ffff_8000_0000,
    0xffff_ffff_7fff_ffff,
    0x7fff_ffff_ffff_ffff,
    0x8000_0000_0000_0000,
    0x8000_0000_0000_0001,
    u64::MAX,
    u64::MAX - 1,
    (1 << 53) + 1,
    (1 << 24) + 1,
    (1 << 63) | 0x401,
    0x0010_0000_0000_0000,
    0x5555_5555_5555_5555,
    0xaaaa_aaaa_aaaa_aaaa,
    0x0101_0101_0101_0101,
    0x8080_8080_8080_8080,
];

const F64_SPECIAL: &[u64] = &[
    0x0000_0000_0000_0000, // +0
    0x8000_0000_0000_0000, // -0
    0x7ff0_0000_0000_0000, // +inf
    0xfff0_0000_0000_0000, // -inf
    0x7ff8_0000_0000_0000, // canonical qNaN
    0xfff8_0000_0000_0001, // -qNaN with payload
    0x7ff0_0000_0000_0001, // sNaN
    0xfff4_0000_0000_0000, // -sNaN
    0x0000_0000_0000_0001, // smallest subnormal
    0x800f_ffff_ffff_ffff, // largest negative subnormal
    0x0010_0000_0000_0000, // smallest normal
    0x7fef_ffff_ffff_ffff, // largest finite
    0xffef_ffff_ffff_ffff,
    0x3ff0_0000_0000_0000, // 1
    0xbff0_0000_0000_0000, // -1
    0x3fe0_0000_0000_0000, // 0.5
    0xbfe0_0000_0000_0000, // -0.5
    0x3ff8_0000_0000_0000, // 1.5
    0x4004_0000_0000_0000, // 2.5
    0xc004_0000_0000_0000, // -2.5
    0x3ff0_0000_0000_0001, // 1 + ulp
    0x41df_ffff_ffc0_0000, // 2^31 - 1
    0x41df_ffff_ffe0_0000, // 2^31 - 0.5
    0x41e0_0000_0000_0000, // 2^31
    0xc1e0_0000_0000_0000, // -2^31
    0xc1e0_0000_0010_0000, // -2^31 - 0.5... (-2147483648.5)
    0x41ef_ffff_ffe0_0000, // 2^32 - 1
    0x41ef_ffff_fff0_0000, // 2^32 - 0.5
    0x41f0_0000_0000_0000, // 2^32
    0x43df_ffff_ffff_ffff, // just below 2^63
    0x43e0_0000_0000_0000, // 2^63
    0xc3e0_0000_0000_0000, // -2^63
    0xc3e0_0000_0000_0001, // just below -2^63
    0x43ef_ffff_ffff_ffff, // just below 2^64
    0x43f0_0000_0000_0000, // 2^64
    0x47ef_ffff_e000_0000, // f32 max
    0x47ef_ffff_f000_0000, // f32 max + half ulp (overflows when narrowed, by mode)
    0x3810_0000_0000_0000, // f32 min normal
    0x380f_ffff_f000_0000, // just below f32 min normal
    0x36a0_0000_0000_0000, // f32 min subnormal
    0x3690_0000_0000_0000, // half the f32 min subnormal
    0x7fe0_0000_0000_0000, // 2^1023
    0x0008_0000_0000_0000, // 2^-1023 (subnormal)
    0x3ca0_0000_0000_0000, // 2^-53
];

const F32_SPECIAL: &[u32] = &[
    0x0000_0000,
    0x8000_0000,
    0x7f80_0000,
    0xff80_0000,
    0x7fc0_0000,
    0xffc0_0001,
    0x7f80_0001,
    0xffa0_0000,
    0x0000_0001,
    0x807f_ffff,
    0x0080_0000,
    0x7f7f_ffff,
    0xff7f_ffff,
    0x3f80_0000,
    0xbf80_0000,
    0x3f00_0000,
    0xbf00_0000,
    0x3fc0_0000,
    0x4020_0000,
    0xc020_0000,
    0x3f80_0001,
    0x4f00_0000, // 2^31
    0xcf00_0000, // -2^31
    0x4eff_ffff, // just below 2^31
    0x4f80_0000, // 2^32
    0x4f7f_ffff,
    0x5f00_0000, // 2^63
    0xdf00_0000,
    0x5eff_ffff,
    0x5f80_0000, // 2^64
    0x5f7f_ffff,
    0x3380_0000, // 2^-24
    0x7f00_0000,
];

impl Rng {
    /// A float of format (`exp_bits`, `frac_bits`) with a random sign and significand and an
    /// exponent drawn to hit the extremes often.
    fn structured_float(&mut self, exp_bits: u32, frac_bits: u32) -> u64 {
        let emax = (1u64 << exp_bits) - 1;
        let bias = emax / 2;
        let e = match self.below(8) {
            0 => 0,
            1 => emax,
            2 => self.below(4) + 1,
            3 => emax - 1 - self.below(4),
            _ => (bias as i64 + self.range(-40, 40)) as u64,
        };
        let frac_mask = (1u64 << frac_bits) - 1;
        let frac = match self.below(5) {
            0 => 0,
            1 => 1 << self.below(frac_bits as u64),
            2 => frac_mask,
            3 => self.next() & frac_mask & !((1 << self.below(frac_bits as u64)) - 1),
            _ => self.next() & frac_mask,
        };
        let sign = self.below(2);
        sign << (exp_bits + frac_bits) | e << frac_bits | frac
    }

    pub fn f64_value(&mut self) -> u64 {
        match self.below(3) {
            0 => self.pick(F64_SPECIAL),
            _ => self.structured_float(11, 52),
        }
    }

    pub fn f32_value(&mut self) -> u32 {
        match self.below(3) {
            0 => self.pick(F32_SPECIAL),
            _ => self.structured_float(8, 23) as u32,
        }
    }

    /// An f register value: an f64, a NaN-boxed f32, or (rarely) an f32 that is not properly
    /// boxed, which single-precision operations must read as the canonical NaN.
    /// `double_pct` percent of them f64s.
    pub fn f_reg(&mut self, double_pct: u64) -> u64 {
        if self.chance(double_pct) {
            self.f64_value()
        } else if self.chance(90) {
            0xffff_ffff_0000_0000 | self.f32_value() as u64
        } else {
            self.next() & 0x0000_ffff_ffff_ffff | self.f32_value() as u64
        }
    }

    pub fn x_value(&mut self) -> u64 {
        match self.below(10) {
            0..=2 => {
                let v = self.pick(X_SPECIAL);
                if self.chance(30) { v.wrapping_neg() } else { v }
            }
            3 => self.range(-64, 64) as u64,
            4 => self.next() as i32 as i64 as u64,
            5 => self.f64_value(),
            6 => self.f32_value() as i32 as i64 as u64,
            7 => self.next() >> self.below(64),
            _ => self.next(),
        }
    }

    pub fn imm12(&mut self) -> i64 {
        match self.below(6) {
            0 => self.pick(&[-2048, 2047, -1, 0, 1, 0x7ff, -0x800, 0x555]),
            1 | 2 => self.range(-32, 31),
            _ => self.range(-2048, 2047),
        }
    }
}
