//! The n_tty line discipline (drivers/tty/n_tty.c): what a terminal does with the bytes
//! typed at it before a program reads them (canonical line editing, echo, the characters
//! that raise signals, CR/NL mapping, flow control) and with the bytes a program writes
//! (output processing: NL to CR NL, tab expansion, the column count that erasing needs).
//!
//! Plain logic over byte buffers, so it is tested natively; `tty/mod.rs` connects it to
//! the host console and to pseudo-terminal masters.

use std::collections::VecDeque;

use super::termios::*;
use crate::signal::{SIGINT, SIGQUIT, SIGTSTP};

/// N_TTY_BUF_SIZE: input the discipline holds before the sender has to wait.
pub const BUF_SIZE: usize = 4096;

#[derive(Clone, Copy, PartialEq, Eq)]
enum Eraser {
    Erase,
    Werase,
    Kill,
}

/// The input queue and the output column of one terminal. Input bytes are numbered from
/// the start (`tail` is the first unread one, `head` one past the last); in canonical mode
/// bytes before `canon_head` form complete lines, whose ends are `delims`.
#[derive(Debug, Default)]
pub struct NTty {
    buf: VecDeque<u8>,
    tail: u64,
    head: u64,
    canon_head: u64,
    /// (end of a complete line, ended by VEOF): the delimiter itself is stored for NL and
    /// EOL, not for EOF.
    delims: VecDeque<(u64, bool)>,
    /// The last character was VLNEXT: take the next one literally.
    lnext: bool,
    /// ECHOPRT: inside a `\...` run of erased characters.
    erasing: bool,
    /// The output column, for erasing tabs and for ONOCR.
    pub column: u32,
    /// The column where echo of the current input line began.
    canon_column: u32,
    /// Output stopped by VSTOP (IXON).
    pub stopped: bool,
}

/// What receiving input did besides queueing it.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Received {
    /// Input bytes taken (the rest did not fit: the sender waits).
    pub taken: usize,
    /// Signals for the foreground process group (ISIG).
    pub signals: Vec<u8>,
    /// Output stopped or restarted (IXON).
    pub flow_changed: bool,
    /// A signal character flushed the queues (without NOFLSH): pending output goes too.
    pub flush_output: bool,
}

fn is_cntrl(c: u8) -> bool {
    c < 0x20 || c == 0x7f
}

fn is_continuation(t: &Termios, c: u8) -> bool {
    t.i(IUTF8) && c & 0xc0 == 0x80
}

impl NTty {
    /// Bytes queued (complete or not).
    pub fn len(&self) -> usize {
        (self.head - self.tail) as usize
    }

    pub fn is_empty(&self) -> bool {
        self.head == self.tail
    }

    /// Bytes a read can take now: complete lines in canonical mode (TIOCINQ), else all.
    pub fn available(&self, t: &Termios) -> usize {
        if t.l(ICANON) {
            (self.canon_head - self.tail) as usize
        } else {
            self.len()
        }
    }

    /// Whether a read would return now (data, or an end-of-file line).
    pub fn readable(&self, t: &Termios) -> bool {
        if t.l(ICANON) {
            !self.delims.is_empty()
        } else {
            !self.is_empty()
        }
    }

    /// Take up to `max` bytes: in canonical mode at most one line (an empty vector for a
    /// line ended by VEOF alone: end of file). None when there is nothing to read.
    pub fn read(&mut self, t: &Termios, max: usize) -> Option<Vec<u8>> {
        let end = if t.l(ICANON) {
            self.delims.front()?.0
        } else if self.is_empty() {
            return None;
        } else {
            self.head
        };
        let n = ((end - self.tail) as usize).min(max);
        let data: Vec<u8> = self.buf.drain(..n).collect();
        self.tail += n as u64;
        if t.l(ICANON) {
            // One line per read: two EOFs in a row are two ends of file.
            if self.delims.front().is_some_and(|&(e, _)| e <= self.tail) {
                self.delims.pop_front();
            }
        } else {
            self.delims.retain(|&(e, _)| e > self.tail);
        }
        if self.canon_head < self.tail {
            self.canon_head = self.tail;
        }
        Some(data)
    }

    /// Drop all input (TCFLSH, or a signal character without NOFLSH).
    pub fn flush_input(&mut self) {
        self.buf.clear();
        self.tail = self.head;
        self.canon_head = self.head;
        self.delims.clear();
        self.lnext = false;
        self.erasing = false;
    }

    /// The settings changed from `old` to `new` (n_tty_set_termios): switching canonical
    /// mode on makes what is queued one complete line; switching it off makes it all
    /// readable.
    pub fn set_termios(&mut self, old: &Termios, new: &Termios) {
        if (old.lflag ^ new.lflag) & ICANON != 0 {
            self.delims.clear();
            if new.l(ICANON) && !self.is_empty() {
                self.delims.push_back((self.head, false));
                self.canon_head = self.head;
            } else {
                self.canon_head = self.tail;
            }
            self.erasing = false;
            self.lnext = false;
        }
        if !new.i(IXON) && self.stopped {
            self.stopped = false;
        }
    }

    /// Process bytes typed at the terminal. Echo goes to `out` (output-processed).
    pub fn receive(&mut self, t: &Termios, input: &[u8], out: &mut Vec<u8>) -> Received {
        let mut r = Received::default();
        for &c in input {
            if !self.receive_char(t, c, out, &mut r) {
                break;
            }
            r.taken += 1;
        }
        r
    }

    fn room(&self, t: &Termios) -> bool {
        // Canonical mode keeps taking (and dropping) characters of an over-long line, so
        // that the newline ending it still gets in; it stops when complete lines fill it.
        if t.l(ICANON) {
            ((self.canon_head - self.tail) as usize) < BUF_SIZE - 1
        } else {
            self.len() < BUF_SIZE - 1
        }
    }

    fn receive_char(
        &mut self,
        t: &Termios,
        mut c: u8,
        out: &mut Vec<u8>,
        r: &mut Received,
    ) -> bool {
        if !self.room(t) {
            return false;
        }
        if t.i(ISTRIP) {
            c &= 0x7f;
        }
        if t.i(IUCLC) && t.l(IEXTEN) {
            c = c.to_ascii_lowercase();
        }
        if self.lnext {
            self.lnext = false;
            self.put_char(t, c, out);
            return true;
        }
        if t.i(IXON) {
            if t.is(VSTART, c) {
                self.stopped = false;
                r.flow_changed = true;
                return true;
            }
            if t.is(VSTOP, c) {
                self.stopped = true;
                r.flow_changed = true;
                return true;
            }
        }
        if t.l(ISIG) {
            let sig = if t.is(VINTR, c) {
                Some(SIGINT)
            } else if t.is(VQUIT, c) {
                Some(SIGQUIT)
            } else if t.is(VSUSP, c) {
                Some(SIGTSTP)
            } else {
                None
            };
            if let Some(sig) = sig {
                // n_tty_receive_signal_char: isig() flushes (unless NOFLSH), output
                // restarts, then the character is echoed (^C).
                r.signals.push(sig);
                if !t.l(NOFLSH) {
                    self.flush_input();
                    r.flush_output = true;
                }
                if t.i(IXON) && self.stopped {
                    self.stopped = false;
                    r.flow_changed = true;
                }
                if t.l(ECHO) {
                    self.echo_char(t, c, out);
                }
                return true;
            }
        }
        if self.stopped && t.i(IXON) && t.i(IXANY) {
            self.stopped = false;
            r.flow_changed = true;
        }
        if c == b'\r' {
            if t.i(IGNCR) {
                return true;
            }
            if t.i(ICRNL) {
                c = b'\n';
            }
        } else if c == b'\n' && t.i(INLCR) {
            c = b'\r';
        }
        if t.l(ICANON) {
            if t.is(VERASE, c) || t.is(VKILL, c) || (t.is(VWERASE, c) && t.l(IEXTEN)) {
                self.eraser(t, c, out);
                return true;
            }
            if t.is(VLNEXT, c) && t.l(IEXTEN) {
                self.lnext = true;
                if t.l(ECHO) {
                    self.finish_erasing(t, out);
                    if t.l(ECHOCTL) {
                        self.output(t, b"^\x08", out);
                    }
                }
                return true;
            }
            if t.is(VREPRINT, c) && t.l(ECHO) && t.l(IEXTEN) {
                self.finish_erasing(t, out);
                self.echo_char(t, c, out);
                self.output(t, b"\n", out);
                let line: Vec<u8> = self.line().collect();
                for b in line {
                    self.echo_char(t, b, out);
                }
                return true;
            }
            if c == b'\n' {
                if t.l(ECHO) || t.l(ECHONL) {
                    self.finish_erasing(t, out);
                    self.output(t, b"\n", out);
                }
                self.store(c);
                self.end_line(false);
                return true;
            }
            if t.is(VEOF, c) {
                self.end_line(true);
                return true;
            }
            if t.is(VEOL, c) || (t.is(VEOL2, c) && t.l(IEXTEN)) {
                if t.l(ECHO) {
                    if self.canon_head == self.head {
                        self.canon_column = self.column;
                    }
                    self.echo_char(t, c, out);
                }
                self.store(c);
                self.end_line(false);
                return true;
            }
        }
        self.put_char(t, c, out);
        true
    }

    /// An ordinary character: echo it and queue it (a full canonical line drops it).
    fn put_char(&mut self, t: &Termios, c: u8, out: &mut Vec<u8>) {
        if t.l(ICANON) && self.len() >= BUF_SIZE - 1 {
            if t.i(IMAXBEL) && t.l(ECHO) {
                self.output(t, b"\x07", out);
            }
            return;
        }
        if t.l(ECHO) {
            self.finish_erasing(t, out);
            if c == b'\n' {
                self.output(t, b"\n", out);
            } else {
                if self.canon_head == self.head {
                    self.canon_column = self.column;
                }
                self.echo_char(t, c, out);
            }
        }
        self.store(c);
    }

    fn store(&mut self, c: u8) {
        self.buf.push_back(c);
        self.head += 1;
    }

    fn end_line(&mut self, eof: bool) {
        self.delims.push_back((self.head, eof));
        self.canon_head = self.head;
    }

    /// The line being edited.
    fn line(&self) -> impl Iterator<Item = u8> + '_ {
        let start = (self.canon_head - self.tail) as usize;
        self.buf.range(start..).copied()
    }

    /// Echo a character: control characters as ^X with ECHOCTL (not tab or newline).
    fn echo_char(&mut self, t: &Termios, c: u8, out: &mut Vec<u8>) {
        if t.l(ECHOCTL) && is_cntrl(c) && c != b'\t' && c != b'\n' {
            self.output(t, &[b'^', c ^ 0x40], out);
        } else {
            self.output(t, &[c], out);
        }
    }

    fn finish_erasing(&mut self, t: &Termios, out: &mut Vec<u8>) {
        if self.erasing {
            self.output(t, b"/", out);
            self.erasing = false;
        }
    }

    /// VERASE, VWERASE and VKILL in canonical mode (n_tty's eraser()).
    fn eraser(&mut self, t: &Termios, c: u8, out: &mut Vec<u8>) {
        if self.head == self.canon_head {
            return;
        }
        let kill = if t.is(VERASE, c) {
            Eraser::Erase
        } else if t.is(VWERASE, c) {
            Eraser::Werase
        } else {
            Eraser::Kill
        };
        if kill == Eraser::Kill {
            if !t.l(ECHO) {
                self.truncate(self.canon_head);
                return;
            }
            if !t.l(ECHOK) || !t.l(ECHOKE) || !t.l(ECHOE) {
                self.truncate(self.canon_head);
                self.finish_erasing(t, out);
                self.echo_char(t, c, out);
                if t.l(ECHOK) {
                    self.output(t, b"\n", out);
                }
                return;
            }
        }
        let mut seen_alnums = 0;
        while self.head != self.canon_head {
            let end = self.head;
            // One character: a UTF-8 sequence goes as a whole.
            let mut at = end;
            let mut ch;
            loop {
                at -= 1;
                ch = self.byte(at);
                if !(is_continuation(t, ch) && at != self.canon_head) {
                    break;
                }
            }
            if kill == Eraser::Werase {
                if ch.is_ascii_alphanumeric() || ch == b'_' {
                    seen_alnums += 1;
                } else if seen_alnums > 0 {
                    break;
                }
            }
            let erased: Vec<u8> = (at..end).map(|i| self.byte(i)).collect();
            self.truncate(at);
            if t.l(ECHO) {
                if t.l(ECHOPRT) {
                    if !self.erasing {
                        self.output(t, b"\\", out);
                        self.erasing = true;
                    }
                    self.echo_char(t, ch, out);
                    self.output(t, &erased[1..], out);
                } else if kill == Eraser::Erase && !t.l(ECHOE) {
                    self.echo_char(t, c, out);
                } else if ch == b'\t' {
                    self.erase_tab(t, out);
                } else {
                    if is_cntrl(ch) && t.l(ECHOCTL) {
                        self.output(t, b"\x08 \x08", out);
                    }
                    if !is_cntrl(ch) || t.l(ECHOCTL) {
                        self.output(t, b"\x08 \x08", out);
                    }
                }
            }
            if kill == Eraser::Erase {
                break;
            }
        }
        if self.head == self.canon_head && t.l(ECHO) {
            self.finish_erasing(t, out);
        }
    }

    /// Back up over an erased tab: as far as the tab had moved the cursor, worked out from
    /// what precedes it in the line (echo_erase_tab).
    fn erase_tab(&mut self, t: &Termios, out: &mut Vec<u8>) {
        let mut chars = 0u32;
        let mut after_tab = false;
        for c in self.line().collect::<Vec<_>>().into_iter().rev() {
            if c == b'\t' {
                after_tab = true;
                break;
            } else if is_cntrl(c) {
                if t.l(ECHOCTL) {
                    chars += 2;
                }
            } else if !is_continuation(t, c) {
                chars += 1;
            }
        }
        if !after_tab {
            chars += self.canon_column;
        }
        let n = (8 - (chars & 7)).min(self.column);
        self.output(t, &vec![b'\x08'; n as usize], out);
    }

    fn byte(&self, at: u64) -> u8 {
        self.buf[(at - self.tail) as usize]
    }

    fn truncate(&mut self, head: u64) {
        self.buf.truncate((head - self.tail) as usize);
        self.head = head;
    }

    /// Output processing (OPOST) of bytes on their way to the terminal, keeping the
    /// column (n_tty's do_output_char).
    pub fn output(&mut self, t: &Termios, data: &[u8], out: &mut Vec<u8>) {
        if !t.o(OPOST) {
            out.extend_from_slice(data);
            return;
        }
        for &c in data {
            match c {
                b'\n' => {
                    if t.o(ONLRET) {
                        self.column = 0;
                    }
                    if t.o(ONLCR) {
                        self.column = 0;
                        self.canon_column = 0;
                        out.extend_from_slice(b"\r\n");
                        continue;
                    }
                    self.canon_column = self.column;
                    out.push(c);
                }
                b'\r' => {
                    if t.o(ONOCR) && self.column == 0 {
                        continue;
                    }
                    if t.o(OCRNL) {
                        if t.o(ONLRET) {
                            self.column = 0;
                            self.canon_column = 0;
                        }
                        out.push(b'\n');
                        continue;
                    }
                    self.column = 0;
                    self.canon_column = 0;
                    out.push(c);
                }
                b'\t' => {
                    let spaces = 8 - (self.column & 7);
                    self.column += spaces;
                    if t.oflag & TABDLY == XTABS {
                        out.extend(std::iter::repeat_n(b' ', spaces as usize));
                    } else {
                        out.push(c);
                    }
                }
                0x08 => {
                    self.column = self.column.saturating_sub(1);
                    out.push(c);
                }
                _ => {
                    if !is_cntrl(c) {
                        if !is_continuation(t, c) {
                            self.column += 1;
                        }
                        out.push(if t.o(OLCUC) {
                            c.to_ascii_uppercase()
                        } else {
                            c
                        });
                    } else {
                        out.push(c);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn typed(t: &Termios, n: &mut NTty, input: &[u8]) -> (Received, String) {
        let mut out = Vec::new();
        let r = n.receive(t, input, &mut out);
        (r, String::from_utf8_lossy(&out).into_owned())
    }

    fn read_all(t: &Termios, n: &mut NTty) -> Option<String> {
        n.read(t, 1 << 20)
            .map(|v| String::from_utf8_lossy(&v).into_owned())
    }

    #[test]
    fn canonical_lines_echo_once_and_read_one_line_at_a_time() {
        let t = Termios::pts_default();
        let mut n = NTty::default();
        let (r, echo) = typed(&t, &mut n, b"echo hi\rls\r");
        assert_eq!(r.taken, 11);
        assert_eq!(echo, "echo hi\r\nls\r\n");
        assert_eq!(n.available(&t), 11);
        assert_eq!(read_all(&t, &mut n).as_deref(), Some("echo hi\n"));
        assert_eq!(read_all(&t, &mut n).as_deref(), Some("ls\n"));
        assert_eq!(read_all(&t, &mut n), None);
        // A partial line is not readable yet; a short read leaves the rest of a line.
        typed(&t, &mut n, b"abc");
        assert!(!n.readable(&t));
        typed(&t, &mut n, b"\n");
        assert_eq!(n.read(&t, 2).unwrap(), b"ab");
        assert_eq!(n.read(&t, 10).unwrap(), b"c\n");
    }

    #[test]
    fn eof_ends_a_line_without_itself_and_alone_reads_as_end_of_file() {
        let t = Termios::pts_default();
        let mut n = NTty::default();
        let (_, echo) = typed(&t, &mut n, b"abc\x04\x04");
        assert_eq!(echo, "abc");
        assert_eq!(read_all(&t, &mut n).as_deref(), Some("abc"));
        assert_eq!(read_all(&t, &mut n).as_deref(), Some(""));
        assert_eq!(read_all(&t, &mut n), None);
    }

    #[test]
    fn erase_kill_and_word_erase_edit_the_line() {
        let t = Termios::pts_default();
        let mut n = NTty::default();
        let (_, echo) = typed(&t, &mut n, b"helo\x7flo\n");
        assert_eq!(echo, "helo\x08 \x08lo\r\n");
        assert_eq!(read_all(&t, &mut n).as_deref(), Some("hello\n"));
        // ^W: trailing blanks, then the word.
        let (_, echo) = typed(&t, &mut n, b"one two  \x17x\n");
        assert_eq!(echo.matches("\x08 \x08").count(), 5);
        assert_eq!(read_all(&t, &mut n).as_deref(), Some("one x\n"));
        // ^U with ECHOKE erases visibly, character by character.
        let (_, echo) = typed(&t, &mut n, b"abc\x15d\n");
        assert_eq!(echo, "abc\x08 \x08\x08 \x08\x08 \x08d\r\n");
        assert_eq!(read_all(&t, &mut n).as_deref(), Some("d\n"));
        // Without ECHOKE: the kill character and a newline (ECHOK).
        let mut t2 = t;
        t2.lflag &= !ECHOKE;
        typed(&t2, &mut n, b"abc");
        let (_, echo) = typed(&t2, &mut n, b"\x15");
        assert_eq!(echo, "^U\r\n");
        // Erase at the start of a line does nothing.
        let (_, echo) = typed(&t, &mut n, b"\x7f\x7fz\n");
        assert_eq!(echo, "z\r\n");
        assert_eq!(read_all(&t, &mut n).as_deref(), Some("z\n"));
    }

    #[test]
    fn utf8_characters_and_control_echoes_erase_whole() {
        let mut t = Termios::pts_default();
        t.iflag |= IUTF8;
        let mut n = NTty::default();
        let (_, echo) = typed(&t, &mut n, "é\x7f".as_bytes());
        assert_eq!(echo, "é\x08 \x08");
        assert!(n.is_empty());
        // ^A echoes as two columns and erases as two.
        let (_, echo) = typed(&t, &mut n, b"\x01\x7f");
        assert_eq!(echo, "^A\x08 \x08\x08 \x08");
        // A tab erases back to where it started.
        let (_, echo) = typed(&t, &mut n, b"ab\t\x7f");
        assert_eq!(echo, "ab\t\x08\x08\x08\x08\x08\x08");
    }

    #[test]
    fn signal_characters_flush_echo_and_report() {
        let t = Termios::pts_default();
        let mut n = NTty::default();
        let (r, echo) = typed(&t, &mut n, b"sleep 100\x03");
        assert_eq!(r.signals, [SIGINT]);
        assert!(r.flush_output);
        assert_eq!(echo, "sleep 100^C");
        assert!(n.is_empty());
        let (r, _) = typed(&t, &mut n, b"\x1a\x1c");
        assert_eq!(r.signals, [SIGTSTP, SIGQUIT]);
        // Without ISIG they are ordinary characters.
        let mut raw = t;
        raw.lflag &= !(ISIG | ICANON | ECHO);
        let (r, _) = typed(&raw, &mut n, b"\x03");
        assert!(r.signals.is_empty());
        assert_eq!(read_all(&raw, &mut n).as_deref(), Some("\x03"));
    }

    #[test]
    fn raw_mode_passes_bytes_and_stops_when_full() {
        let mut t = Termios::pts_default();
        t.lflag &= !(ICANON | ECHO);
        t.iflag &= !ICRNL;
        let mut n = NTty::default();
        let (r, echo) = typed(&t, &mut n, b"\x1b[A\r\x7f");
        assert_eq!((r.taken, echo.as_str()), (5, ""));
        assert_eq!(read_all(&t, &mut n).as_deref(), Some("\x1b[A\r\x7f"));
        let big = vec![b'x'; BUF_SIZE + 10];
        let (r, _) = typed(&t, &mut n, &big);
        assert_eq!(r.taken, BUF_SIZE - 1);
    }

    #[test]
    fn switching_modes_keeps_typed_input() {
        let canon = Termios::pts_default();
        let mut raw = canon;
        raw.lflag &= !ICANON;
        let mut n = NTty::default();
        typed(&canon, &mut n, b"partial");
        n.set_termios(&canon, &raw);
        assert_eq!(read_all(&raw, &mut n).as_deref(), Some("partial"));
        typed(&raw, &mut n, b"xy");
        n.set_termios(&raw, &canon);
        assert!(n.readable(&canon));
        assert_eq!(read_all(&canon, &mut n).as_deref(), Some("xy"));
    }

    #[test]
    fn output_processing_maps_newlines_and_tabs() {
        let mut t = Termios::pts_default();
        let mut n = NTty::default();
        let mut out = Vec::new();
        n.output(&t, b"a\tb\n", &mut out);
        assert_eq!(out, b"a\tb\r\n");
        t.oflag |= XTABS;
        out.clear();
        n.output(&t, b"ab\tc", &mut out);
        assert_eq!(out, b"ab      c");
        assert_eq!(n.column, 9);
        t.oflag = 0;
        out.clear();
        n.output(&t, b"x\n", &mut out);
        assert_eq!(out, b"x\n");
    }

    #[test]
    fn flow_control_and_literal_next() {
        let t = Termios::pts_default();
        let mut n = NTty::default();
        let (r, _) = typed(&t, &mut n, b"\x13");
        assert!(n.stopped && r.flow_changed);
        typed(&t, &mut n, b"\x11");
        assert!(!n.stopped);
        // ^V^C puts a literal ^C in the line.
        let (r, echo) = typed(&t, &mut n, b"\x16\x03\n");
        assert!(r.signals.is_empty());
        assert_eq!(echo, "^\x08^C\r\n");
        assert_eq!(read_all(&t, &mut n).as_deref(), Some("\x03\n"));
    }
}
