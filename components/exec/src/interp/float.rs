//! F and D: NaN-boxing, rounding-mode resolution, and the native fast paths in front of
//! `softfloat`.
//!
//! Each helper reads its operands from the hart, computes, and writes the destination;
//! `Err(bits)` means an illegal instruction (an invalid static or dynamic rounding mode,
//! RISC-V unpriv 20.2). Native `f64`/`f32` arithmetic rounds to nearest-even, so the fast
//! paths serve only `Rm::Rne` with finite, normal results far from the overflow and
//! underflow thresholds, and detect inexactness with error-free transformations; anything
//! else goes to `softfloat`, which implements every mode and flag exactly.
//!
//! add, mul, div, sqrt and fma take `FAST` (the interpreter's fast tier, which calls no
//! function): there they give up with `Err` when the native path does not apply, having
//! changed nothing, and are `inline(always)` so that the fast path makes no call either.
//!
//! NX is sticky: once a program has an inexact result, fflags keeps NX until the program
//! writes fflags, and most floating-point code never does. So the fast paths start from
//! the hart's NX (`fl`) and skip the exactness test when it is already set; the range
//! checks, which decide the other flags, always run.
//!
//! The error-free transformations use only +, - and * (Knuth's TwoSum, Dekker's
//! TwoProduct), never `mul_add`: wasm32 has no fused multiply-add, so there `mul_add` is a
//! software routine that costs more than the whole operation it checks.

use super::Hart;
use crate::isa::Inst;
use crate::softfloat::{self as sf, F32, F64, Float, NX, Rm};

pub type FpResult = Result<(), u32>;

/// A format as it sits in the 64-bit f registers.
pub trait Reg: Float {
    const IS_F64: bool;
    /// The value of a register as this format: RISC-V unpriv 20.2, an f32 not NaN-boxed
    /// (upper 32 bits all ones) reads as the canonical NaN.
    fn unbox(raw: u64) -> u64;
    /// The register value holding `v`.
    fn rebox(v: u64) -> u64;
}

impl Reg for F32 {
    const IS_F64: bool = false;
    fn unbox(raw: u64) -> u64 {
        if raw >> 32 == 0xffff_ffff {
            raw & 0xffff_ffff
        } else {
            F32::NAN
        }
    }
    fn rebox(v: u64) -> u64 {
        v | 0xffff_ffff_0000_0000
    }
}

impl Reg for F64 {
    const IS_F64: bool = true;
    fn unbox(raw: u64) -> u64 {
        raw
    }
    fn rebox(v: u64) -> u64 {
        v
    }
}

/// The instruction's rounding mode: its rm field, or frm when rm is 7 (dynamic).
fn rm(h: &Hart, i: &Inst) -> Result<Rm, u32> {
    let bits = if i.rm == 7 { h.frm } else { i.rm };
    Rm::from_bits(bits).ok_or(i.imm as u32)
}

fn src<F: Reg>(h: &Hart, r: u8) -> u64 {
    F::unbox(h.f[r as usize])
}

fn set<F: Reg>(h: &mut Hart, r: u8, v: u64) {
    h.f[r as usize] = F::rebox(v);
}

/// Whether `x` is a normal value well inside the range where error-free transformations
/// are exact (no overflow, and error terms above the subnormal range): 2^-900 <= |x| <
/// 2^901, tested on the biased exponent (123 ..= 1923) with one compare.
fn safe(x: f64) -> bool {
    ((x.to_bits() >> 52) & 0x7ff).wrapping_sub(123) <= 1923 - 123
}

/// Rounds an f64 that is the exact result of an f32 operation, or the f64 result of one
/// of + - * / sqrt (double rounding is innocuous there: 53 >= 2*24 + 2), to f32; `None`
/// when the value is below the normal range (where tininess decides UF) or overflows.
fn narrow(v: f64) -> Option<f32> {
    let r = v as f32;
    // NaN and values below the normal range fail the comparison.
    (v.abs() >= f32::MIN_POSITIVE as f64 && r.is_finite()).then_some(r)
}

fn fast_add(a: u64, b: u64, f64_fmt: bool, flags: &mut u8) -> Option<u64> {
    let (x, y) = if f64_fmt {
        (f64::from_bits(a), f64::from_bits(b))
    } else {
        (
            f32::from_bits(a as u32) as f64,
            f32::from_bits(b as u32) as f64,
        )
    };
    if !x.is_finite() || !y.is_finite() {
        return None;
    }
    let s = x + y;
    if !safe(s) {
        return None;
    }
    if *flags & NX != 0 && f64_fmt {
        // NX is sticky and already set: whether this sum is exact changes nothing.
        return Some(s.to_bits());
    }
    // Knuth's TwoSum: err is exactly (x + y) - s.
    let bb = s - x;
    let err = (x - (s - bb)) + (y - bb);
    if f64_fmt {
        if err != 0.0 {
            *flags |= NX;
        }
        return Some(s.to_bits());
    }
    let r = narrow(s)?;
    if err != 0.0 || r as f64 != s {
        *flags |= NX;
    }
    Some(r.to_bits() as u64)
}

/// Veltkamp's split: `x == hi + lo` with both halves of at most 26 significant bits, so
/// their pairwise products are exact. Needs |x| well below 2^996 (no overflow).
fn split(x: f64) -> (f64, f64) {
    let c = 134_217_729.0 * x; // 2^27 + 1
    let hi = c - (c - x);
    (hi, x - hi)
}

/// Dekker's TwoProduct: the exact `x * y - p` for `p = x * y` rounded to nearest, when `x`,
/// `y` and `p` are all `safe` (no overflow in the split, no underflow in the partial
/// products: each is at least |p| * 2^-106).
fn product_error(x: f64, y: f64, p: f64) -> f64 {
    let (xh, xl) = split(x);
    let (yh, yl) = split(y);
    ((xh * yh - p) + xh * yl + xl * yh) + xl * yl
}

/// Whether the product of two normal f64s is exact (given it is in the normal range): the
/// odd parts of the two significands, of `sa` and `sb` significant bits, multiply into an
/// odd number of `sa + sb - 1` or `sa + sb` bits, which must fit in 53. Integer-only, so
/// cheaper than TwoProduct, and most products are decided by the first compare.
fn product_exact(a: u64, b: u64) -> bool {
    let (ma, mb) = (a & F64::FRAC_MASK | 1 << 52, b & F64::FRAC_MASK | 1 << 52);
    let (za, zb) = (ma.trailing_zeros(), mb.trailing_zeros());
    match (53 - za) + (53 - zb) {
        ..=53 => true,
        // The odd parts have 54 bits between them, so their product fits in a u64.
        54 => ((ma >> za) * (mb >> zb)) >> 53 == 0,
        _ => false,
    }
}

fn fast_mul(a: u64, b: u64, f64_fmt: bool, flags: &mut u8) -> Option<u64> {
    if f64_fmt {
        let (x, y) = (f64::from_bits(a), f64::from_bits(b));
        let p = x * y;
        if !safe(x) || !safe(y) || !safe(p) {
            return None;
        }
        if *flags & NX == 0 && !product_exact(a, b) {
            *flags |= NX;
        }
        return Some(p.to_bits());
    }
    // An f32 product is exact in f64 (48 bits).
    let p = f32::from_bits(a as u32) as f64 * f32::from_bits(b as u32) as f64;
    let r = narrow(p)?;
    if r as f64 != p {
        *flags |= NX;
    }
    Some(r.to_bits() as u64)
}

fn fast_div(a: u64, b: u64, f64_fmt: bool, flags: &mut u8) -> Option<u64> {
    if f64_fmt {
        let (x, y) = (f64::from_bits(a), f64::from_bits(b));
        if !safe(x) || !safe(y) {
            return None;
        }
        let q = x / y;
        if !safe(q) {
            return None;
        }
        // Exact iff q*y == x exactly. q*y = p + e (TwoProduct), and x - p is exact (Sterbenz:
        // p is within a factor of two of x), so compare it with e.
        if *flags & NX != 0 {
            return Some(q.to_bits());
        }
        let p = q * y;
        if x - p != product_error(q, y, p) {
            *flags |= NX;
        }
        return Some(q.to_bits());
    }
    let (x, y) = (
        f32::from_bits(a as u32) as f64,
        f32::from_bits(b as u32) as f64,
    );
    if !x.is_finite() || !y.is_finite() || y == 0.0 {
        return None;
    }
    let r = narrow(x / y)?;
    // Two f32 significands multiply exactly in f64 (48 bits).
    if r as f64 * y != x {
        *flags |= NX;
    }
    Some(r.to_bits() as u64)
}

fn fast_sqrt(a: u64, f64_fmt: bool, flags: &mut u8) -> Option<u64> {
    if f64_fmt {
        let x = f64::from_bits(a);
        if !safe(x) || x < 0.0 {
            return None;
        }
        let r = x.sqrt();
        if *flags & NX == 0 && (!product_exact(r.to_bits(), r.to_bits()) || r * r != x) {
            *flags |= NX;
        }
        return Some(r.to_bits());
    }
    let x = f32::from_bits(a as u32) as f64;
    if !x.is_normal() || x < 0.0 {
        return None;
    }
    let r = narrow(x.sqrt())?;
    if r as f64 * r as f64 != x {
        *flags |= NX;
    }
    Some(r.to_bits() as u64)
}

/// f32 fma through f64: the product is exact; when the sum is exact too, one rounding to f32
/// remains.
fn fast_fma32(a: u64, b: u64, c: u64, neg_prod: bool, neg_c: bool, flags: &mut u8) -> Option<u64> {
    let p = f32::from_bits(a as u32) as f64 * f32::from_bits(b as u32) as f64;
    let z = f32::from_bits(c as u32) as f64;
    let (p, z) = (if neg_prod { -p } else { p }, if neg_c { -z } else { z });
    if !p.is_finite() || !z.is_finite() {
        return None;
    }
    let s = p + z;
    let bb = s - p;
    if (p - (s - bb)) + (z - bb) != 0.0 {
        return None;
    }
    let r = narrow(s)?;
    if r as f64 != s {
        *flags |= NX;
    }
    Some(r.to_bits() as u64)
}

/// fadd / fsub.
#[inline(always)]
pub fn add<F: Reg, const FAST: bool>(h: &mut Hart, i: &Inst, negate_b: bool) -> FpResult {
    let rm = rm(h, i)?;
    let (a, b) = (src::<F>(h, i.rs1), src::<F>(h, i.rs2));
    let b = if negate_b && !sf::is_nan::<F>(b) {
        b ^ F::SIGN
    } else {
        b
    };
    let mut fl = h.fflags & NX;
    let r = match (rm == Rm::Rne)
        .then(|| fast_add(a, b, F::IS_F64, &mut fl))
        .flatten()
    {
        Some(r) => r,
        // The fast tier does not call softfloat: the full interpreter redoes it.
        None if FAST => return Err(0),
        None => sf::add::<F>(a, b, false, rm, &mut fl),
    };
    h.fflags |= fl;
    set::<F>(h, i.rd, r);
    Ok(())
}

#[inline(always)]
pub fn mul<F: Reg, const FAST: bool>(h: &mut Hart, i: &Inst) -> FpResult {
    let rm = rm(h, i)?;
    let (a, b) = (src::<F>(h, i.rs1), src::<F>(h, i.rs2));
    let mut fl = h.fflags & NX;
    let r = match (rm == Rm::Rne)
        .then(|| fast_mul(a, b, F::IS_F64, &mut fl))
        .flatten()
    {
        Some(r) => r,
        // The fast tier does not call softfloat: the full interpreter redoes it.
        None if FAST => return Err(0),
        None => sf::mul::<F>(a, b, rm, &mut fl),
    };
    h.fflags |= fl;
    set::<F>(h, i.rd, r);
    Ok(())
}

#[inline(always)]
pub fn div<F: Reg, const FAST: bool>(h: &mut Hart, i: &Inst) -> FpResult {
    let rm = rm(h, i)?;
    let (a, b) = (src::<F>(h, i.rs1), src::<F>(h, i.rs2));
    let mut fl = h.fflags & NX;
    let r = match (rm == Rm::Rne)
        .then(|| fast_div(a, b, F::IS_F64, &mut fl))
        .flatten()
    {
        Some(r) => r,
        // The fast tier does not call softfloat: the full interpreter redoes it.
        None if FAST => return Err(0),
        None => sf::div::<F>(a, b, rm, &mut fl),
    };
    h.fflags |= fl;
    set::<F>(h, i.rd, r);
    Ok(())
}

#[inline(always)]
pub fn sqrt<F: Reg, const FAST: bool>(h: &mut Hart, i: &Inst) -> FpResult {
    let rm = rm(h, i)?;
    let a = src::<F>(h, i.rs1);
    let mut fl = h.fflags & NX;
    let r = match (rm == Rm::Rne)
        .then(|| fast_sqrt(a, F::IS_F64, &mut fl))
        .flatten()
    {
        Some(r) => r,
        // The fast tier does not call softfloat: the full interpreter redoes it.
        None if FAST => return Err(0),
        None => sf::sqrt::<F>(a, rm, &mut fl),
    };
    h.fflags |= fl;
    set::<F>(h, i.rd, r);
    Ok(())
}

/// fmadd (false, false), fmsub (false, true), fnmsub (true, false), fnmadd (true, true).
#[inline(always)]
pub fn fma<F: Reg, const FAST: bool>(
    h: &mut Hart,
    i: &Inst,
    neg_prod: bool,
    neg_c: bool,
) -> FpResult {
    let rm = rm(h, i)?;
    let (a, b, c) = (src::<F>(h, i.rs1), src::<F>(h, i.rs2), src::<F>(h, i.rs3));
    let mut fl = 0;
    let fast = if rm == Rm::Rne && !F::IS_F64 {
        fast_fma32(a, b, c, neg_prod, neg_c, &mut fl)
    } else {
        None
    };
    let r = match fast {
        Some(r) => r,
        // The fast tier does not call softfloat: the full interpreter redoes it.
        None if FAST => return Err(0),
        None => sf::fma::<F>(a, b, c, neg_prod, neg_c, rm, &mut fl),
    };
    h.fflags |= fl;
    set::<F>(h, i.rd, r);
    Ok(())
}

/// fsgnj (0), fsgnjn (1), fsgnjx (2): sign injection never raises flags or canonicalises.
pub fn sgnj<F: Reg>(h: &mut Hart, i: &Inst, kind: u8) {
    let (a, b) = (src::<F>(h, i.rs1), src::<F>(h, i.rs2));
    let s = match kind {
        0 => b & F::SIGN,
        1 => !b & F::SIGN,
        _ => (a ^ b) & F::SIGN,
    };
    set::<F>(h, i.rd, (a & !F::SIGN) | s);
}

pub fn min_max<F: Reg>(h: &mut Hart, i: &Inst, max: bool) {
    let (a, b) = (src::<F>(h, i.rs1), src::<F>(h, i.rs2));
    let r = sf::min_max::<F>(a, b, max, &mut h.fflags);
    set::<F>(h, i.rd, r);
}

/// feq (0), flt (1), fle (2), into an integer register.
pub fn compare<F: Reg>(h: &mut Hart, i: &Inst, kind: u8) -> u64 {
    let (a, b) = (src::<F>(h, i.rs1), src::<F>(h, i.rs2));
    (match kind {
        0 => sf::eq::<F>(a, b, &mut h.fflags),
        1 => sf::lt_le::<F>(a, b, false, &mut h.fflags),
        _ => sf::lt_le::<F>(a, b, true, &mut h.fflags),
    }) as u64
}

pub fn class<F: Reg>(h: &Hart, i: &Inst) -> u64 {
    sf::class::<F>(src::<F>(h, i.rs1))
}

/// fcvt.{w,wu,l,lu}.{s,d}: the integer register value (32-bit results sign-extended, RISC-V
/// unpriv 20.7, even for the unsigned forms).
pub fn to_int<F: Reg>(h: &mut Hart, i: &Inst, signed: bool, bits: u32) -> Result<u64, u32> {
    let rm = rm(h, i)?;
    let a = src::<F>(h, i.rs1);
    let r = sf::to_int::<F>(a, signed, bits, rm, &mut h.fflags);
    Ok(if bits == 32 {
        r as u32 as i32 as i64 as u64
    } else {
        r
    })
}

/// fcvt.{s,d}.{w,wu,l,lu} from integer register value `v`.
pub fn from_int<F: Reg>(h: &mut Hart, i: &Inst, v: u64, signed: bool, bits: u32) -> FpResult {
    let rm = rm(h, i)?;
    let (neg, mag) = match (signed, bits) {
        (true, 32) => ((v as i32) < 0, (v as i32).unsigned_abs() as u64),
        (true, _) => ((v as i64) < 0, (v as i64).unsigned_abs()),
        (false, 32) => (false, v as u32 as u64),
        (false, _) => (false, v),
    };
    let r = sf::from_int::<F>(neg, mag, rm, &mut h.fflags);
    set::<F>(h, i.rd, r);
    Ok(())
}

/// fcvt.s.d and fcvt.d.s.
pub fn convert<From: Reg, To: Reg>(h: &mut Hart, i: &Inst) -> FpResult {
    let rm = rm(h, i)?;
    let a = src::<From>(h, i.rs1);
    let r = sf::convert::<From, To>(a, rm, &mut h.fflags);
    set::<To>(h, i.rd, r);
    Ok(())
}
