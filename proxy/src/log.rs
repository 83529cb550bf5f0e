//! Rate-limited logging for what a client can make happen at will (refusals, protocol
//! errors, failed handshakes): a flood of refused frames or connections must not become a
//! flood of lines. Lines go out at up to `RATE` a second after a burst of `BURST`; the
//! rest are counted, and the count is printed with the next line that goes out, or by
//! `flush` (the server calls it every few seconds), as "N similar lines suppressed".

use std::fmt::Display;
use std::sync::Mutex;
use std::time::Instant;

const BURST: f64 = 20.0;
const RATE: f64 = 5.0;

struct Bucket {
    tokens: f64,
    last: Instant,
    suppressed: u64,
}

static BUCKET: Mutex<Option<Bucket>> = Mutex::new(None);

/// Print `msg` (prefixed "friscy-proxy: ") unless the rate is exceeded; count it if it is.
pub fn line(msg: impl Display) {
    let mut guard = BUCKET.lock().unwrap_or_else(|e| e.into_inner());
    let now = Instant::now();
    let b = guard.get_or_insert(Bucket {
        tokens: BURST,
        last: now,
        suppressed: 0,
    });
    b.tokens = (b.tokens + now.duration_since(b.last).as_secs_f64() * RATE).min(BURST);
    b.last = now;
    if b.tokens < 1.0 {
        b.suppressed += 1;
        return;
    }
    b.tokens -= 1.0;
    let n = std::mem::take(&mut b.suppressed);
    drop(guard);
    if n > 0 {
        eprintln!("friscy-proxy: ({n} similar lines suppressed)");
    }
    eprintln!("friscy-proxy: {msg}");
}

/// Print the count of lines suppressed since the last one that went out, if any.
pub fn flush() {
    let mut guard = BUCKET.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(b) = guard.as_mut() {
        let n = std::mem::take(&mut b.suppressed);
        drop(guard);
        if n > 0 {
            eprintln!("friscy-proxy: ({n} similar lines suppressed)");
        }
    }
}

/// `limited!("refused {who}: ...")`: a rate-limited line, formatted like `eprintln!`.
macro_rules! limited {
    ($($arg:tt)*) => {
        $crate::log::line(format_args!($($arg)*))
    };
}
pub(crate) use limited;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flood_is_cut_to_the_burst_and_counted() {
        for i in 0..1000 {
            line(format_args!("test line {i}"));
        }
        let b = BUCKET.lock().unwrap();
        let b = b.as_ref().unwrap();
        // At most the burst (plus what refilled meanwhile) went out.
        assert!(b.suppressed >= 1000 - BURST as u64 - 10, "{}", b.suppressed);
    }
}
