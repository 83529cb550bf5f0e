//! Terminals, natively: pseudo-terminals and the line discipline compared with Linux
//! (tests/guest/tty_pty.c in friscy and under qemu-riscv64 on the host's ptys).

mod harness;

#[test]
fn ptys_and_the_line_discipline_match_linux() {
    harness::same_as_linux("tty_pty");
}

use std::cell::RefCell;
use std::rc::Rc;

use friscy_abi::Errno;
use friscy_kernel::{ConsoleEvent, ConsoleMode, Host, Kernel, Stdio};

/// A host with a console: what it types and the events it sends are released when the
/// guest's output contains a marker, so the test does not depend on timing.
struct ScriptHost {
    mode: ConsoleMode,
    out: Rc<RefCell<Vec<u8>>>,
    /// (marker, input to type, events to send), in order.
    script: Vec<(&'static str, &'static [u8], Vec<ConsoleEvent>)>,
    input: Vec<u8>,
    events: Vec<ConsoleEvent>,
}

impl ScriptHost {
    fn advance(&mut self) {
        let out = String::from_utf8_lossy(&self.out.borrow()).into_owned();
        while let Some((marker, _, _)) = self.script.first()
            && out.contains(marker)
        {
            let (_, input, events) = self.script.remove(0);
            self.input.extend_from_slice(input);
            self.events.extend(events);
        }
    }
}

impl Host for ScriptHost {
    fn read_stdin(&mut self, max: usize) -> Option<Vec<u8>> {
        self.advance();
        if self.input.is_empty() {
            return None;
        }
        let n = max.min(self.input.len());
        Some(self.input.drain(..n).collect())
    }
    fn write(&mut self, _: Stdio, data: &[u8]) -> Result<(), Errno> {
        self.out.borrow_mut().extend_from_slice(data);
        Ok(())
    }
    fn console_mode(&self) -> ConsoleMode {
        self.mode
    }
    fn console_size(&self) -> Option<(u16, u16)> {
        Some((40, 120))
    }
    fn console_events(&mut self) -> Vec<ConsoleEvent> {
        self.advance();
        std::mem::take(&mut self.events)
    }
    fn wall_clock(&self) -> (i64, u32) {
        (1_700_000_000, 0)
    }
    fn monotonic_ns(&self) -> u64 {
        START.with(|s| s.elapsed().as_nanos() as u64)
    }
    fn random(&mut self, buf: &mut [u8]) {
        buf.fill(7);
    }
    fn diagnostic(&mut self, line: &str) {
        self.out
            .borrow_mut()
            .extend_from_slice(format!("{line}\n").as_bytes());
    }
    fn wait(&mut self, _stdin: bool, deadline_ns: Option<u64>, _pollables: Vec<u32>) {
        // Input and events are released by markers, never by waiting: just let time pass.
        let now = self.monotonic_ns();
        let until = deadline_ns.unwrap_or(now + 1_000_000).min(now + 1_000_000);
        std::thread::sleep(std::time::Duration::from_nanos(until.saturating_sub(now)));
    }
}

thread_local! {
    static START: std::time::Instant = std::time::Instant::now();
}

fn run_console(
    mode: ConsoleMode,
    script: Vec<(&'static str, &'static [u8], Vec<ConsoleEvent>)>,
) -> (u8, String) {
    let prog = std::fs::read(harness::guest("tty_console")).unwrap();
    let out = Rc::new(RefCell::new(Vec::new()));
    let host = ScriptHost {
        mode,
        out: out.clone(),
        script,
        input: Vec::new(),
        events: Vec::new(),
    };
    let vfs = friscy_vfs::Vfs::new(harness::tar(&[("bin/tty_console", 0o755, prog)])).unwrap();
    let mut k = Kernel::new(
        Box::new(friscy_exec::Machines::new()),
        Box::new(vfs),
        Box::new(host),
    );
    let status = k.run_command(vec![b"/bin/tty_console".to_vec()], vec![]);
    let out = String::from_utf8_lossy(&out.borrow()).into_owned();
    (status, out)
}

#[test]
fn raw_console_edits_echoes_and_signals_the_first_process() {
    let (status, out) = run_console(
        ConsoleMode::Raw,
        vec![
            ("ready", b"ab\x7fc\r", vec![]),
            (
                "waiting",
                b"\x03",
                vec![
                    ConsoleEvent::Resize {
                        rows: 50,
                        cols: 132,
                    },
                    ConsoleEvent::Signal(15),
                ],
            ),
        ],
    );
    assert_eq!(
        out,
        "ttyname /dev/pts/0 isatty 111\r\n\
         icanon 1 echo 1 isig 1\r\n\
         size 40 120\r\n\
         foreground 1 session leader 1\r\n\
         ready\r\n\
         ab\x08 \x08c\r\n\
         read 3: ac\r\n\
         waiting\r\n\
         ^Csignals ok, size 50 132\r\n"
    );
    assert_eq!(status, 0);
}

#[test]
fn cooked_console_does_not_echo_again() {
    // The host terminal edited and echoed the line; the kernel shows ECHO off and adds
    // nothing. A cursor position report the terminal typed in is dropped.
    let (status, out) = run_console(
        ConsoleMode::Cooked,
        vec![
            ("ready", b"\x1b[5;1Rhello\n", vec![]),
            (
                "waiting",
                b"",
                vec![
                    ConsoleEvent::Signal(2),
                    ConsoleEvent::Resize {
                        rows: 50,
                        cols: 132,
                    },
                    ConsoleEvent::Signal(15),
                ],
            ),
        ],
    );
    // Output processing is the host terminal's too: plain newlines go out.
    assert!(out.contains("icanon 1 echo 0 isig 1\n"), "{out}");
    assert!(
        out.ends_with("ready\nread 6: hello\nwaiting\nsignals ok, size 50 132\n"),
        "{out}"
    );
    assert_eq!(status, 0);
}
