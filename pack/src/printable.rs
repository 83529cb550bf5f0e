//! Messages that quote untrusted bytes (member names from an image, JSON from a registry,
//! a server's error body) are printed escaped: a control character or a bidirectional
//! override in an image must not reach the user's terminal as such (ANSI escapes can
//! rewrite the screen, retitle the window or hide text).

use std::borrow::Cow;

/// `s` with control characters (C0 but newline and tab, DEL, C1) and Unicode bidi
/// controls written as `\xNN` / `\u{NNNN}`.
pub fn printable(s: &str) -> Cow<'_, str> {
    let unsafe_char = |c: char| {
        (c.is_control() && c != '\n' && c != '\t')
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
    };
    if !s.chars().any(unsafe_char) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        if !unsafe_char(c) {
            out.push(c);
        } else if (c as u32) < 0x100 {
            out.push_str(&format!("\\x{:02x}", c as u32));
        } else {
            out.push_str(&format!("\\u{{{:04x}}}", c as u32));
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_bidi_overrides_are_escaped() {
        assert_eq!(printable("plain name\tand tab\n"), "plain name\tand tab\n");
        assert_eq!(
            printable("evil\x1b]0;pwned\x07\x1b[2J\u{9b}"),
            "evil\\x1b]0;pwned\\x07\\x1b[2J\\x9b"
        );
        assert_eq!(printable("a\u{202e}gpj.exe"), "a\\u{202e}gpj.exe");
        assert_eq!(printable("\x7f"), "\\x7f");
    }
}
