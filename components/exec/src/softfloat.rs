//! IEEE 754 binary32/binary64 arithmetic in software, with RISC-V's choices: all five
//! rounding modes, the five exception flags, tininess detected after rounding, and the
//! canonical NaN as the only NaN result (RISC-V unpriv 20.3: no NaN payload propagation).
//!
//! Every operation computes the exact result as `sig * 2^exp` (a `u128` significand whose
//! lowest bit is sticky when bits were shifted out) and rounds it once in `round_pack`. The
//! interpreter uses native floating point for the common round-to-nearest cases and comes
//! here for everything else, so these routines favour clarity over speed.

/// Exception flags, as in fflags (RISC-V unpriv 20.2).
pub const NV: u8 = 0x10;
pub const DZ: u8 = 0x08;
pub const OF: u8 = 0x04;
pub const UF: u8 = 0x02;
pub const NX: u8 = 0x01;

/// A rounding mode (the rm / frm encodings 0..=4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rm {
    /// Round to nearest, ties to even.
    Rne,
    /// Round towards zero.
    Rtz,
    /// Round down (towards -inf).
    Rdn,
    /// Round up (towards +inf).
    Rup,
    /// Round to nearest, ties to max magnitude.
    Rmm,
}

impl Rm {
    /// The mode for an rm/frm encoding; 5..=7 are not rounding modes.
    pub fn from_bits(bits: u8) -> Option<Rm> {
        Some(match bits {
            0 => Rm::Rne,
            1 => Rm::Rtz,
            2 => Rm::Rdn,
            3 => Rm::Rup,
            4 => Rm::Rmm,
            _ => return None,
        })
    }
}

/// A binary floating-point format. Values travel as the low bits of a `u64`.
pub trait Float {
    const EXP_BITS: u32;
    const FRAC_BITS: u32;
    /// Precision in bits, with the implicit one.
    const PREC: i32 = Self::FRAC_BITS as i32 + 1;
    const BIAS: i32 = (1 << (Self::EXP_BITS - 1)) - 1;
    const EXP_MAX: u64 = (1 << Self::EXP_BITS) - 1;
    const SIGN: u64 = 1 << (Self::EXP_BITS + Self::FRAC_BITS);
    const FRAC_MASK: u64 = (1 << Self::FRAC_BITS) - 1;
    const INF: u64 = Self::EXP_MAX << Self::FRAC_BITS;
    /// The canonical NaN (RISC-V unpriv 20.3): positive, quiet, zero payload.
    const NAN: u64 = Self::INF | 1 << (Self::FRAC_BITS - 1);
    const MAX_FINITE: u64 = ((Self::EXP_MAX - 1) << Self::FRAC_BITS) | Self::FRAC_MASK;
}

/// binary32.
pub struct F32;
/// binary64.
pub struct F64;

impl Float for F32 {
    const EXP_BITS: u32 = 8;
    const FRAC_BITS: u32 = 23;
}
impl Float for F64 {
    const EXP_BITS: u32 = 11;
    const FRAC_BITS: u32 = 52;
}

/// A value taken apart.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Zero,
    /// `sig * 2^exp`, `sig != 0` (subnormals are not normalised).
    Finite {
        sig: u64,
        exp: i32,
    },
    Inf,
    Nan {
        signaling: bool,
    },
}

pub fn sign<F: Float>(v: u64) -> bool {
    v & F::SIGN != 0
}

pub fn unpack<F: Float>(v: u64) -> Kind {
    let e = (v >> F::FRAC_BITS) & F::EXP_MAX;
    let frac = v & F::FRAC_MASK;
    if e == F::EXP_MAX {
        if frac == 0 {
            Kind::Inf
        } else {
            Kind::Nan {
                signaling: frac >> (F::FRAC_BITS - 1) == 0,
            }
        }
    } else if e == 0 {
        if frac == 0 {
            Kind::Zero
        } else {
            Kind::Finite {
                sig: frac,
                exp: 1 - F::BIAS - F::FRAC_BITS as i32,
            }
        }
    } else {
        let exp = e as i32 - F::BIAS - F::FRAC_BITS as i32;
        Kind::Finite {
            sig: frac | 1 << F::FRAC_BITS,
            exp,
        }
    }
}

pub fn is_nan<F: Float>(v: u64) -> bool {
    matches!(unpack::<F>(v), Kind::Nan { .. })
}

pub fn is_snan<F: Float>(v: u64) -> bool {
    unpack::<F>(v) == Kind::Nan { signaling: true }
}

fn signed_zero<F: Float>(s: bool) -> u64 {
    if s { F::SIGN } else { 0 }
}

fn signed_inf<F: Float>(s: bool) -> u64 {
    signed_zero::<F>(s) | F::INF
}

/// Shifts right, ORing the bits shifted out into the lowest bit ("jamming").
fn shr_jam(v: u128, n: u32) -> u128 {
    if n == 0 {
        v
    } else if n >= 128 {
        (v != 0) as u128
    } else {
        (v >> n) | ((v & ((1u128 << n) - 1)) != 0) as u128
    }
}

/// Drops the two low (round, sticky) bits of `sig`, rounding per `rm`.
fn round_bits(sig: u128, rm: Rm, negative: bool) -> u128 {
    let inexact = sig & 3 != 0;
    let up = match rm {
        Rm::Rne => sig & 2 != 0 && sig & 5 != 0,
        Rm::Rtz => false,
        Rm::Rdn => negative && inexact,
        Rm::Rup => !negative && inexact,
        Rm::Rmm => sig & 2 != 0,
    };
    (sig >> 2) + up as u128
}

/// Rounds `(-1)^negative * sig * 2^exp` (`sig != 0`) to format `F`, raising flags.
pub fn round_pack<F: Float>(negative: bool, sig: u128, exp: i32, rm: Rm, flags: &mut u8) -> u64 {
    let p = F::PREC;
    // Normalise to p+2 bits: p result bits, a round bit and a sticky bit.
    let shift = (128 - sig.leading_zeros() as i32) - (p + 2);
    let (sig, exp) = if shift > 0 {
        (shr_jam(sig, shift as u32), exp + shift)
    } else {
        (sig << -shift, exp + shift)
    };
    // The value is now in [2^e, 2^(e+1)).
    let e = exp + p + 1;
    let emin = 1 - F::BIAS;
    let s = signed_zero::<F>(negative);
    if e < emin {
        // RISC-V detects tininess after rounding (unpriv 20.3): tiny unless rounding to p bits
        // with unbounded exponent would reach 2^emin.
        let tiny = e < emin - 1 || round_bits(sig, rm, negative) >> p == 0;
        let sig = shr_jam(sig, (emin - e) as u32);
        if sig & 3 != 0 {
            *flags |= NX | if tiny { UF } else { 0 };
        }
        // A carry into bit p-1 yields the smallest normal, which this encodes correctly.
        return s | round_bits(sig, rm, negative) as u64;
    }
    let mut r = round_bits(sig, rm, negative);
    let mut e = e;
    if r >> p != 0 {
        r >>= 1;
        e += 1;
    }
    let biased = (e + F::BIAS) as u64;
    if biased >= F::EXP_MAX {
        *flags |= OF | NX;
        let to_inf = match rm {
            Rm::Rne | Rm::Rmm => true,
            Rm::Rtz => false,
            Rm::Rdn => negative,
            Rm::Rup => !negative,
        };
        return s | if to_inf { F::INF } else { F::MAX_FINITE };
    }
    if sig & 3 != 0 {
        *flags |= NX;
    }
    s | biased << F::FRAC_BITS | (r as u64 & F::FRAC_MASK)
}

/// The exact sum of two signed finite values `sig * 2^exp` (`sig` below 2^107), or `None`
/// when it is exactly zero.
fn add_exact(a: (bool, u128, i32), b: (bool, u128, i32)) -> Option<(bool, u128, i32)> {
    // Align both to a top bit at 118, so the larger keeps 2^118 and the smaller can be
    // jammed once it is more than 8 bits below (leaving over 60 exact bits above the jam).
    let norm = |(s, sig, exp): (bool, u128, i32)| {
        let sh = sig.leading_zeros() as i32 - 9;
        (s, sig << sh, exp - sh)
    };
    let (mut a, mut b) = (norm(a), norm(b));
    if a.2 < b.2 {
        core::mem::swap(&mut a, &mut b);
    }
    let d = (a.2 - b.2) as u32;
    let (sa, mut ma, mut exp) = a;
    let (sb, mut mb, _) = b;
    if d <= 8 {
        ma <<= d;
        exp -= d as i32;
    } else {
        mb = shr_jam(mb, d);
    }
    let (s, m) = if sa == sb {
        (sa, ma + mb)
    } else if ma >= mb {
        (sa, ma - mb)
    } else {
        (sb, mb - ma)
    };
    if m == 0 { None } else { Some((s, m, exp)) }
}

/// The NaN result of an operation with a NaN operand; NV if any is signaling.
fn nan_result<F: Float>(ops: &[u64], flags: &mut u8) -> u64 {
    if ops.iter().any(|&v| is_snan::<F>(v)) {
        *flags |= NV;
    }
    F::NAN
}

/// `a + b` (or `a - b` when `negate_b`).
pub fn add<F: Float>(a: u64, b: u64, negate_b: bool, rm: Rm, flags: &mut u8) -> u64 {
    let b2 = if negate_b { b ^ F::SIGN } else { b };
    let (sa, sb) = (sign::<F>(a), sign::<F>(b2));
    match (unpack::<F>(a), unpack::<F>(b2)) {
        (Kind::Nan { .. }, _) | (_, Kind::Nan { .. }) => nan_result::<F>(&[a, b], flags),
        (Kind::Inf, Kind::Inf) if sa != sb => {
            *flags |= NV;
            F::NAN
        }
        (Kind::Inf, _) => a,
        (_, Kind::Inf) => b2,
        // IEEE 754 6.3: an exact zero sum is +0, or -0 when rounding down; x + x keeps x's sign.
        (Kind::Zero, Kind::Zero) => signed_zero::<F>(if sa == sb { sa } else { rm == Rm::Rdn }),
        (Kind::Zero, _) => b2,
        (_, Kind::Zero) => a,
        (Kind::Finite { sig: ma, exp: ea }, Kind::Finite { sig: mb, exp: eb }) => {
            match add_exact((sa, ma as u128, ea), (sb, mb as u128, eb)) {
                Some((s, m, e)) => round_pack::<F>(s, m, e, rm, flags),
                None => signed_zero::<F>(rm == Rm::Rdn),
            }
        }
    }
}

pub fn mul<F: Float>(a: u64, b: u64, rm: Rm, flags: &mut u8) -> u64 {
    let s = sign::<F>(a) != sign::<F>(b);
    match (unpack::<F>(a), unpack::<F>(b)) {
        (Kind::Nan { .. }, _) | (_, Kind::Nan { .. }) => nan_result::<F>(&[a, b], flags),
        (Kind::Inf, Kind::Zero) | (Kind::Zero, Kind::Inf) => {
            *flags |= NV;
            F::NAN
        }
        (Kind::Inf, _) | (_, Kind::Inf) => signed_inf::<F>(s),
        (Kind::Zero, _) | (_, Kind::Zero) => signed_zero::<F>(s),
        (Kind::Finite { sig: ma, exp: ea }, Kind::Finite { sig: mb, exp: eb }) => {
            round_pack::<F>(s, ma as u128 * mb as u128, ea + eb, rm, flags)
        }
    }
}

pub fn div<F: Float>(a: u64, b: u64, rm: Rm, flags: &mut u8) -> u64 {
    let s = sign::<F>(a) != sign::<F>(b);
    match (unpack::<F>(a), unpack::<F>(b)) {
        (Kind::Nan { .. }, _) | (_, Kind::Nan { .. }) => nan_result::<F>(&[a, b], flags),
        (Kind::Inf, Kind::Inf) | (Kind::Zero, Kind::Zero) => {
            *flags |= NV;
            F::NAN
        }
        (Kind::Inf, _) => signed_inf::<F>(s),
        (_, Kind::Inf) | (Kind::Zero, _) => signed_zero::<F>(s),
        (_, Kind::Zero) => {
            *flags |= DZ;
            signed_inf::<F>(s)
        }
        (Kind::Finite { sig: ma, exp: ea }, Kind::Finite { sig: mb, exp: eb }) => {
            // Dividend's top bit at 127, divisor's at 63: a quotient of 64 or 65 bits.
            let sa = ma.leading_zeros() as i32;
            let sb = mb.leading_zeros() as i32;
            let n = ((ma as u128) << sa) << 64;
            let d = (mb as u128) << sb;
            let q = n / d;
            let sticky = !n.is_multiple_of(d) as u128;
            round_pack::<F>(s, q | sticky, ea - sa - 64 - (eb - sb), rm, flags)
        }
    }
}

/// Integer square root of a `u128`.
fn isqrt(n: u128) -> u128 {
    if n == 0 {
        return 0;
    }
    let mut r = (n as f64).sqrt() as u128;
    // One Newton step from the f64 estimate, then exact correction.
    if r > 0 {
        r = (r + n / r) / 2;
    }
    while r * r > n {
        r -= 1;
    }
    while (r + 1) * (r + 1) <= n {
        r += 1;
    }
    r
}

pub fn sqrt<F: Float>(a: u64, rm: Rm, flags: &mut u8) -> u64 {
    match unpack::<F>(a) {
        Kind::Nan { .. } => nan_result::<F>(&[a], flags),
        Kind::Zero => a,
        _ if sign::<F>(a) => {
            *flags |= NV;
            F::NAN
        }
        Kind::Inf => a,
        Kind::Finite { sig, exp } => {
            // Put the top bit at 124 or 125 with an even exponent: a 62/63-bit root.
            let mut sh = sig.leading_zeros() as i32 + 60;
            if (exp - sh) % 2 != 0 {
                sh += 1;
            }
            let n = (sig as u128) << sh;
            let r = isqrt(n);
            let sticky = (r * r != n) as u128;
            round_pack::<F>(false, r | sticky, (exp - sh) / 2, rm, flags)
        }
    }
}

/// `(-1)^neg_prod * a * b + (-1)^neg_c * c` with a single rounding.
pub fn fma<F: Float>(
    a: u64,
    b: u64,
    c: u64,
    neg_prod: bool,
    neg_c: bool,
    rm: Rm,
    flags: &mut u8,
) -> u64 {
    let (ka, kb, kc) = (unpack::<F>(a), unpack::<F>(b), unpack::<F>(c));
    let sp = (sign::<F>(a) != sign::<F>(b)) != neg_prod;
    let sc = sign::<F>(c) != neg_c;
    let inf_times_zero = matches!((ka, kb), (Kind::Inf, Kind::Zero) | (Kind::Zero, Kind::Inf));
    // RISC-V unpriv 20.6: inf * 0 raises NV even when the addend is a quiet NaN.
    if inf_times_zero {
        *flags |= NV;
        return nan_result::<F>(&[a, b, c], flags);
    }
    if [ka, kb, kc].iter().any(|k| matches!(k, Kind::Nan { .. })) {
        return nan_result::<F>(&[a, b, c], flags);
    }
    let prod_inf = ka == Kind::Inf || kb == Kind::Inf;
    let prod_zero = ka == Kind::Zero || kb == Kind::Zero;
    match kc {
        Kind::Inf if prod_inf && sp != sc => {
            *flags |= NV;
            return F::NAN;
        }
        Kind::Inf => return signed_inf::<F>(sc),
        _ if prod_inf => return signed_inf::<F>(sp),
        Kind::Zero if prod_zero => {
            return signed_zero::<F>(if sp == sc { sp } else { rm == Rm::Rdn });
        }
        _ if prod_zero => return c ^ if neg_c { F::SIGN } else { 0 },
        _ => {}
    }
    let (Kind::Finite { sig: ma, exp: ea }, Kind::Finite { sig: mb, exp: eb }) = (ka, kb) else {
        unreachable!("zero, infinite and NaN products are handled above")
    };
    let prod = (sp, ma as u128 * mb as u128, ea + eb);
    match kc {
        Kind::Finite { sig: mc, exp: ec } => match add_exact(prod, (sc, mc as u128, ec)) {
            Some((s, m, e)) => round_pack::<F>(s, m, e, rm, flags),
            None => signed_zero::<F>(rm == Rm::Rdn),
        },
        _ => round_pack::<F>(prod.0, prod.1, prod.2, rm, flags),
    }
}

/// Converts between formats (fcvt.s.d / fcvt.d.s).
pub fn convert<From: Float, To: Float>(a: u64, rm: Rm, flags: &mut u8) -> u64 {
    let s = sign::<From>(a);
    match unpack::<From>(a) {
        Kind::Nan { .. } => {
            nan_result::<From>(&[a], flags);
            To::NAN
        }
        Kind::Inf => signed_inf::<To>(s),
        Kind::Zero => signed_zero::<To>(s),
        Kind::Finite { sig, exp } => round_pack::<To>(s, sig as u128, exp, rm, flags),
    }
}

/// Integer to float; `value` is the integer's magnitude and sign.
pub fn from_int<F: Float>(negative: bool, magnitude: u64, rm: Rm, flags: &mut u8) -> u64 {
    if magnitude == 0 {
        return 0;
    }
    round_pack::<F>(negative, magnitude as u128, 0, rm, flags)
}

/// Float to integer of `bits` bits (32 or 64), signed or not, saturating with NV as RISC-V
/// specifies (unpriv 20.7: NaN and +inf give the largest value, -inf the smallest). The
/// result is the integer's two's-complement bits, not yet sign-extended.
pub fn to_int<F: Float>(a: u64, signed: bool, bits: u32, rm: Rm, flags: &mut u8) -> u64 {
    let (min, max): (i128, i128) = if signed {
        (-(1i128 << (bits - 1)), (1i128 << (bits - 1)) - 1)
    } else {
        (0, (1i128 << bits) - 1)
    };
    let neg = sign::<F>(a);
    let (mag, inexact) = match unpack::<F>(a) {
        Kind::Nan { .. } => {
            *flags |= NV;
            return max as u64;
        }
        Kind::Inf => {
            *flags |= NV;
            return if neg { min as u64 } else { max as u64 };
        }
        Kind::Zero => (0u128, false),
        Kind::Finite { sig, exp } => {
            if exp >= 0 {
                if exp > 64 {
                    (u128::MAX, false)
                } else {
                    ((sig as u128) << exp, false)
                }
            } else {
                // Keep two extra bits (round, sticky) and round like round_pack does.
                let n = (-exp) as u32;
                let with_rs = shr_jam((sig as u128) << 2, n);
                (round_bits(with_rs, rm, neg), with_rs & 3 != 0)
            }
        }
    };
    let v: Option<i128> = if mag > (1u128 << 65) {
        None
    } else if neg {
        Some(-(mag as i128))
    } else {
        Some(mag as i128)
    };
    match v {
        Some(v) if v >= min && v <= max => {
            if inexact {
                *flags |= NX;
            }
            v as u64
        }
        _ => {
            *flags |= NV;
            if neg { min as u64 } else { max as u64 }
        }
    }
}

/// A total order key for non-NaN values in which -0 == +0.
fn key<F: Float>(v: u64) -> i128 {
    let mag = (v & !F::SIGN) as i128;
    if sign::<F>(v) { -mag } else { mag }
}

/// feq (quiet: NV only for signaling NaNs).
pub fn eq<F: Float>(a: u64, b: u64, flags: &mut u8) -> bool {
    if is_nan::<F>(a) || is_nan::<F>(b) {
        nan_result::<F>(&[a, b], flags);
        return false;
    }
    key::<F>(a) == key::<F>(b)
}

/// flt (`le = false`) and fle (signaling: NV for any NaN).
pub fn lt_le<F: Float>(a: u64, b: u64, le: bool, flags: &mut u8) -> bool {
    if is_nan::<F>(a) || is_nan::<F>(b) {
        *flags |= NV;
        return false;
    }
    if le {
        key::<F>(a) <= key::<F>(b)
    } else {
        key::<F>(a) < key::<F>(b)
    }
}

/// fmin / fmax (RISC-V unpriv 20.6, IEEE 754-2019 minimumNumber/maximumNumber): -0 < +0, a
/// single NaN operand yields the other, two NaNs the canonical NaN; NV on signaling NaNs.
pub fn min_max<F: Float>(a: u64, b: u64, max: bool, flags: &mut u8) -> u64 {
    if is_snan::<F>(a) || is_snan::<F>(b) {
        *flags |= NV;
    }
    match (is_nan::<F>(a), is_nan::<F>(b)) {
        (true, true) => return F::NAN,
        (true, false) => return b,
        (false, true) => return a,
        _ => {}
    }
    let (ka, kb) = (key::<F>(a), key::<F>(b));
    if ka == kb {
        // Equal values, maybe zeros of different signs: the min has the sign bit if either does.
        return if max { a & b } else { a | b };
    }
    if (ka < kb) != max { a } else { b }
}

/// fclass: a one-hot mask (RISC-V unpriv 20.9, table 20.5).
pub fn class<F: Float>(a: u64) -> u64 {
    let neg = sign::<F>(a);
    let bit = match unpack::<F>(a) {
        Kind::Inf => {
            if neg {
                0
            } else {
                7
            }
        }
        Kind::Finite { sig, .. } => {
            let normal = sig >> F::FRAC_BITS != 0;
            match (neg, normal) {
                (true, true) => 1,
                (true, false) => 2,
                (false, false) => 5,
                (false, true) => 6,
            }
        }
        Kind::Zero => {
            if neg {
                3
            } else {
                4
            }
        }
        Kind::Nan { signaling: true } => 8,
        Kind::Nan { signaling: false } => 9,
    };
    1 << bit
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f64op(f: impl Fn(u64, u64, &mut u8) -> u64, a: f64, b: f64) -> (f64, u8) {
        let mut fl = 0;
        let r = f(a.to_bits(), b.to_bits(), &mut fl);
        (f64::from_bits(r), fl)
    }

    #[test]
    fn basic_rne_matches_native() {
        let vals = [
            1.0,
            -2.5,
            3.0e-310,
            1.0e308,
            0.1,
            7.0,
            -0.0,
            1.0 / 3.0,
            5e-324,
        ];
        for &a in &vals {
            for &b in &vals {
                let add = f64op(|x, y, f| add::<F64>(x, y, false, Rm::Rne, f), a, b).0;
                assert_eq!(add.to_bits(), (a + b).to_bits(), "{a} + {b}");
                let m = f64op(|x, y, f| mul::<F64>(x, y, Rm::Rne, f), a, b).0;
                assert_eq!(m.to_bits(), (a * b).to_bits(), "{a} * {b}");
                if b != 0.0 {
                    let d = f64op(|x, y, f| div::<F64>(x, y, Rm::Rne, f), a, b).0;
                    assert_eq!(d.to_bits(), (a / b).to_bits(), "{a} / {b}");
                }
                let mut fl = 0;
                let r = fma::<F64>(
                    a.to_bits(),
                    b.to_bits(),
                    a.to_bits(),
                    false,
                    false,
                    Rm::Rne,
                    &mut fl,
                );
                assert_eq!(r, a.mul_add(b, a).to_bits(), "fma {a} {b}");
            }
            let mut fl = 0;
            if a >= 0.0 {
                assert_eq!(
                    sqrt::<F64>(a.to_bits(), Rm::Rne, &mut fl),
                    a.sqrt().to_bits()
                );
            }
        }
    }

    #[test]
    fn flags_and_modes() {
        let (r, fl) = f64op(|x, y, f| div::<F64>(x, y, Rm::Rne, f), 1.0, 3.0);
        assert_eq!((r, fl), (1.0 / 3.0, NX));
        let (r, fl) = f64op(|x, y, f| div::<F64>(x, y, Rm::Rtz, f), 1.0, 0.0);
        assert_eq!((r, fl), (f64::INFINITY, DZ));
        let (r, fl) = f64op(|x, y, f| mul::<F64>(x, y, Rm::Rtz, f), 1e308, 10.0);
        assert_eq!((r, fl), (f64::MAX, OF | NX));
        let (_, fl) = f64op(|x, y, f| mul::<F64>(x, y, Rm::Rne, f), 1e-300, 1e-300);
        assert_eq!(fl, UF | NX);
        let (r, _) = f64op(|x, y, f| div::<F64>(x, y, Rm::Rup, f), 1.0, 3.0);
        assert_eq!(r.to_bits(), (1.0f64 / 3.0).to_bits() + 1);
        let mut fl = 0;
        assert_eq!(
            to_int::<F64>(f64::NAN.to_bits(), true, 32, Rm::Rne, &mut fl),
            0x7fff_ffff
        );
        assert_eq!(fl, NV);
        let mut fl = 0;
        assert_eq!(
            to_int::<F64>((-0.5f64).to_bits(), false, 64, Rm::Rtz, &mut fl),
            0
        );
        assert_eq!(fl, NX);
        let mut fl = 0;
        assert_eq!(
            to_int::<F64>((2.5f64).to_bits(), true, 64, Rm::Rne, &mut fl),
            2
        );
        assert_eq!(
            to_int::<F64>((2.5f64).to_bits(), true, 64, Rm::Rmm, &mut fl),
            3
        );
        assert_eq!(
            to_int::<F64>((-2.5f64).to_bits(), true, 64, Rm::Rdn, &mut fl),
            -3i64 as u64
        );
        let mut fl = 0;
        let m = min_max::<F64>((-0.0f64).to_bits(), 0, false, &mut fl);
        assert_eq!(m, (-0.0f64).to_bits());
    }

    #[test]
    fn f32_fma_is_single_rounding() {
        // a*b+c where rounding through f64 first would double-round.
        let a = f32::from_bits(0x3f80_0001);
        let b = f32::from_bits(0x3f80_0001);
        let c = f32::from_bits(0xbf80_0002);
        let mut fl = 0;
        let r = fma::<F32>(
            a.to_bits() as u64,
            b.to_bits() as u64,
            c.to_bits() as u64,
            false,
            false,
            Rm::Rne,
            &mut fl,
        );
        let exact = (a as f64) * (b as f64) + (c as f64);
        assert_eq!(r as u32, (exact as f32).to_bits());
    }
}
