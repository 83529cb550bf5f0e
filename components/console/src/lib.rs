//! `console-wasi`: the `friscy:tty/console` that sealed components carry, for hosts that
//! give a component nothing but WASI (the plain `wasmtime run` CLI). It derives the
//! console from `wasi:cli/terminal-stdin` and `terminal-stdout`: a terminal there is one
//! the host keeps in cooked mode (wasmtime cannot switch it to raw), so the mode is
//! `cooked`; anything else is `none`. WASI reports no window size and forwards no
//! signals, so `size` is unknown, `events` is always empty, and `subscribe` gives a
//! pollable with nothing behind it: a monotonic-clock subscription a day away (a far
//! instant such as u64::MAX overflows the host's clock arithmetic; a wake-up a day
//! later only makes the kernel look again and find nothing).
//!
//! Hosts that know more (the native `friscy run -t`, a browser page with xterm.js)
//! implement the interface themselves instead of plugging this in.

/// The console mode for what WASI says about the standard streams: a guest sees a
/// terminal only when both its input and its output are one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    None,
    Cooked,
}

pub fn mode_of(stdin_is_terminal: bool, stdout_is_terminal: bool) -> Mode {
    if stdin_is_terminal && stdout_is_terminal {
        Mode::Cooked
    } else {
        Mode::None
    }
}

#[cfg(feature = "component")]
mod component {
    wit_bindgen::generate!({
        inline: "
            package friscy:console-wasi@0.1.0;

            world console-wasi {
                import wasi:cli/terminal-stdin@0.2.6;
                import wasi:cli/terminal-stdout@0.2.6;
                import wasi:clocks/monotonic-clock@0.2.6;
                export friscy:tty/console@0.1.0;
            }
        ",
        path: "../../wit",
        generate_all,
    });

    use exports::friscy::tty::console::{Event, Guest, TtyMode, Winsize};

    /// A day: as good as never for a pollable that has nothing to report.
    const NEVER_NS: u64 = 86_400_000_000_000;
    use wasi::io::poll::Pollable;

    struct ConsoleWasi;

    impl Guest for ConsoleWasi {
        fn mode() -> TtyMode {
            let stdin = wasi::cli::terminal_stdin::get_terminal_stdin().is_some();
            let stdout = wasi::cli::terminal_stdout::get_terminal_stdout().is_some();
            match super::mode_of(stdin, stdout) {
                super::Mode::None => TtyMode::None,
                super::Mode::Cooked => TtyMode::Cooked,
            }
        }
        fn size() -> Option<Winsize> {
            None
        }
        fn events() -> Vec<Event> {
            Vec::new()
        }
        fn subscribe() -> Pollable {
            wasi::clocks::monotonic_clock::subscribe_duration(NEVER_NS)
        }
    }

    export!(ConsoleWasi);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_terminal_needs_both_ends() {
        assert_eq!(mode_of(true, true), Mode::Cooked);
        assert_eq!(mode_of(true, false), Mode::None);
        assert_eq!(mode_of(false, true), Mode::None);
        assert_eq!(mode_of(false, false), Mode::None);
    }
}
