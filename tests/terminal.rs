//! `friscy run -it` in a real terminal: each test starts friscy inside tmux (a real
//! pseudo-terminal, 120x40, which friscy switches to raw mode), types at it with
//! `send-keys` and reads the screen with `capture-pane`, as a person would. Alpine
//! (busybox ash, vi, top) and Debian (bash, python3) images; a missing image prints
//! SKIPPED. Also: SIGTERM sent to friscy runs the guest init's trap, and `stty -a`
//! matches Linux (the qemu reference) on a fresh terminal.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use friscy_tests::{GUEST_ENV, alpine_tar, built, debian_tar, loud, reference_ready, run};

/// How long a screen may take to show what a test waits for (a loaded CI machine runs
/// several guests at once).
const PATIENCE: Duration = Duration::from_secs(60);

/// One tmux server with one window running a command; killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn start(cmd: &[String]) -> Tmux {
        static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let t = Tmux {
            socket: format!("friscy-test-{}-{n}", std::process::id()),
        };
        let line = cmd
            .iter()
            .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
            .collect::<Vec<_>>()
            .join(" ");
        // Keep the pane after friscy exits, to read its last words.
        let r = t.tmux(&["new-session", "-d", "-x", "120", "-y", "40", "-s", "t"]);
        assert_eq!(r.status, Some(0), "tmux: {}", r.stderr);
        t.tmux(&["set-option", "-g", "remain-on-exit", "on"]);
        t.tmux(&["set-option", "-g", "history-limit", "5000"]);
        let r = t.tmux(&["respawn-pane", "-k", "-t", "t", &line]);
        assert_eq!(r.status, Some(0), "tmux: {}", r.stderr);
        t
    }

    fn tmux(&self, args: &[&str]) -> friscy_tests::Run {
        run(Command::new("tmux").arg("-L").arg(&self.socket).args(args))
    }

    /// Keys as tmux names them ("Enter", "C-c", "Up") or literal text with `-l`.
    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "t"];
        args.extend(keys);
        self.tmux(&args);
    }

    fn type_line(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "t", "-l", text]);
        self.keys(&["Enter"]);
    }

    /// The screen and scrollback, as text.
    fn screen(&self) -> String {
        self.tmux(&["capture-pane", "-p", "-J", "-S", "-", "-t", "t"])
            .stdout
    }

    /// Wait until `pred` holds for the screen; panic with the screen if it never does.
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let s = self.screen();
            if pred(&s) {
                return s;
            }
            if start.elapsed() > PATIENCE {
                panic!("timed out waiting for {what}; the screen:\n{s}");
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Wait until the screen has `n` prompts, and a moment more: busybox ash asks the
    /// terminal for the cursor position after each prompt, and its line editor drops
    /// keys that arrive glued to the reply (lineedit.c's read_key; a person never
    /// types that fast, but send-keys does).
    fn wait_prompts(&self, n: usize) -> String {
        let s = self.wait_for(&format!("{n} prompts"), |s| prompts(s) >= n);
        std::thread::sleep(Duration::from_secs(1));
        s
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        self.tmux(&["kill-server"]);
    }
}

/// Lines that start with busybox ash's prompt.
fn prompts(screen: &str) -> usize {
    screen.lines().filter(|l| l.starts_with(PROMPT)).count()
}

/// Lines that are exactly `text` (command output), give or take blanks.
fn lines_eq(screen: &str, text: &str) -> usize {
    screen.lines().filter(|l| l.trim() == text).count()
}

/// `friscy run -it --rootfs IMAGE -e ... -- ARGV`.
fn friscy_it(image: &Path, argv: &[&str]) -> Vec<String> {
    let mut cmd = vec![
        built("friscy").display().to_string(),
        "run".into(),
        "-it".into(),
        "--rootfs".into(),
        image.display().to_string(),
    ];
    for kv in GUEST_ENV.iter().chain(&["TERM=xterm-256color"]) {
        cmd.push("-e".into());
        cmd.push(kv.to_string());
    }
    cmd.push("--".into());
    cmd.extend(argv.iter().map(|s| s.to_string()));
    cmd
}

fn tmux_ready() -> bool {
    let ok = Command::new("tmux").arg("-V").output().is_ok();
    if !ok {
        loud("SKIPPED: no tmux (scripts/setup.sh installs it)");
    }
    ok
}

fn alpine() -> Option<PathBuf> {
    if !tmux_ready() {
        return None;
    }
    alpine_tar()
}

/// busybox ash's prompt for root in /.
const PROMPT: &str = "/ #";

#[test]
fn alpine_shell_prompt_echo_history_completion_and_size() {
    let Some(image) = alpine() else { return };
    let t = Tmux::start(&friscy_it(&image, &["/bin/sh"]));
    let s = t.wait_prompts(1);
    // No cursor-position reply leaked into the line (`^[[..R`), nothing else on screen.
    assert!(
        !s.contains("^[") && !s.contains(";1R"),
        "stray escape reply:\n{s}"
    );
    assert_eq!(s.trim(), PROMPT, "{s}");

    t.type_line("echo hi");
    let s = t.wait_prompts(2);
    assert_eq!(lines_eq(&s, "/ # echo hi"), 1, "echoed once:\n{s}");
    assert_eq!(s.lines().filter(|l| l.trim() == "hi").count(), 1, "{s}");

    // Up recalls the last command.
    t.keys(&["Up", "Enter"]);
    let s = t.wait_prompts(3);
    assert_eq!(s.lines().filter(|l| l.trim() == "hi").count(), 2, "{s}");

    // Tab completes a path.
    t.tmux(&["send-keys", "-t", "t", "-l", "ls -d /et"]);
    t.keys(&["Tab"]);
    t.wait_for("completion", |s| s.contains("ls -d /etc/"));
    t.keys(&["Enter"]);
    t.wait_prompts(4);

    t.type_line("tty");
    let s = t.wait_prompts(5);
    assert!(s.lines().any(|l| l.trim() == "/dev/pts/0"), "{s}");

    // The window size follows the terminal.
    t.type_line("stty size");
    let s = t.wait_prompts(6);
    assert!(s.lines().any(|l| l.trim() == "40 120"), "{s}");
    t.tmux(&["resize-window", "-t", "t", "-x", "100", "-y", "30"]);
    std::thread::sleep(Duration::from_millis(500));
    t.type_line("stty size");
    t.wait_for("the new size", |s| s.lines().any(|l| l.trim() == "30 100"));
}

/// A resize sends SIGWINCH to the terminal's foreground process group: here a
/// non-interactive shell (no job control, so its children share its group), whose trap
/// runs once the current `sleep` ends. (An interactive ash at its prompt does not run a
/// WINCH trap on Linux either: its line editor takes the signal.)
#[test]
fn alpine_resize_runs_a_winch_trap() {
    let Some(image) = alpine() else { return };
    let script = "trap 'echo got WINCH; stty size' WINCH; echo ready; \
                  for i in 1 2 3 4 5 6 7 8 9 10; do sleep 1; done";
    let t = Tmux::start(&friscy_it(&image, &["/bin/sh", "-c", script]));
    t.wait_for("the script to start", |s| s.contains("ready"));
    t.tmux(&["resize-window", "-t", "t", "-x", "100", "-y", "30"]);
    let s = t.wait_for("the WINCH trap", |s| s.contains("got WINCH"));
    t.wait_for("the new size", |s| s.lines().any(|l| l.trim() == "30 100"));
    assert!(!s.contains("friscy:"), "{s}");
}

#[test]
fn alpine_job_control_ctrl_c_ctrl_z_and_background_jobs() {
    let Some(image) = alpine() else { return };
    let t = Tmux::start(&friscy_it(&image, &["/bin/sh"]));
    t.wait_prompts(1);

    // Ctrl-C ends the foreground job, not the shell (or friscy).
    // (Pressed once sleep runs: earlier, it would flush the line before ash read it.)
    t.type_line("sleep 100");
    t.wait_for("the command's echo", |s| s.contains("/ # sleep 100"));
    std::thread::sleep(Duration::from_secs(2));
    let start = Instant::now();
    t.keys(&["C-c"]);
    t.wait_prompts(2);
    assert!(start.elapsed() < Duration::from_secs(30));
    t.type_line("echo alive $?");
    t.wait_for("the shell after ^C", |s| s.contains("alive 130"));

    // A background job finishing does not end the shell.
    t.type_line("sleep 1 &");
    t.wait_prompts(4);
    std::thread::sleep(Duration::from_secs(3));
    t.type_line("echo still here");
    t.wait_for("the shell after a background job", |s| {
        s.lines().any(|l| l.trim() == "still here")
    });

    // Ctrl-Z stops the job; fg continues it to its end.
    t.type_line("sleep 3");
    t.wait_for("the command's echo", |s| s.contains("/ # sleep 3"));
    std::thread::sleep(Duration::from_secs(1));
    t.keys(&["C-z"]);
    t.wait_for("the stopped job", |s| s.contains("Stopped"));
    let n = prompts(&t.screen());
    t.type_line("fg");
    t.wait_prompts(n + 1);
    t.type_line("echo fg status $?");
    t.wait_for("the job's status after fg", |s| {
        s.lines().any(|l| l.trim() == "fg status 0")
    });
}

#[test]
fn alpine_vi_edits_and_saves_and_top_runs() {
    let Some(image) = alpine() else { return };
    let t = Tmux::start(&friscy_it(&image, &["/bin/sh"]));
    t.wait_prompts(1);
    t.type_line("vi /tmp/note");
    // vi draws the whole 40-line screen: tildes down to the status line.
    t.wait_for("vi's screen", |s| {
        s.lines().filter(|l| l.starts_with('~')).count() >= 30
    });
    // Pauses as a person makes them: vi asks the terminal for its size when it starts,
    // and tells Escape from an escape sequence by the 50 ms after it.
    std::thread::sleep(Duration::from_secs(1));
    t.tmux(&["send-keys", "-t", "t", "-l", "ihello from vi"]);
    t.keys(&["Escape"]);
    std::thread::sleep(Duration::from_secs(1));
    t.tmux(&["send-keys", "-t", "t", "-l", ":wq"]);
    t.keys(&["Enter"]);
    t.wait_prompts(2);
    t.type_line("cat /tmp/note");
    t.wait_for("the saved file", |s| {
        s.lines().any(|l| l.trim() == "hello from vi")
    });

    t.type_line("top -n 1");
    let s = t.wait_for("top's header", |s| s.contains("Mem:") && s.contains("PID"));
    assert!(s.contains("Load average"), "{s}");
    t.wait_for("the prompt after top", |s| s.trim_end().ends_with(PROMPT));
}

#[test]
fn debian_bash_prompts_without_dash_i_and_python_answers() {
    if !tmux_ready() {
        return;
    }
    let Some(image) = debian_tar() else { return };
    let t = Tmux::start(&friscy_it(&image, &["bash"]));
    t.wait_for("bash's prompt", |s| s.trim_end().ends_with('#'));
    t.type_line("echo hi from bash");
    t.wait_for("bash's output", |s| {
        s.lines().any(|l| l.trim() == "hi from bash")
    });
    t.type_line("python3");
    t.wait_for("python's prompt", |s| s.trim_end().ends_with(">>>"));
    t.type_line("1+1");
    t.wait_for("python's answer", |s| s.lines().any(|l| l.trim() == "2"));
    std::thread::sleep(Duration::from_secs(1));
    t.keys(&["C-d"]);
    t.wait_for("bash's prompt again", |s| s.trim_end().ends_with('#'));
}

#[test]
fn sigterm_to_friscy_runs_the_guest_init_trap() {
    let Some(image) = alpine_tar() else { return };
    use std::io::{BufRead, BufReader};
    let mut child = Command::new(built("friscy"))
        .args(["run", "--rootfs"])
        .arg(&image)
        .args([
            "--",
            "/bin/sh",
            "-c",
            "trap 'echo bye; exit 3' TERM; echo ready; sleep 100 & wait",
        ])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    // The shell is in `wait` now (or about to be: the trap runs either way).
    std::thread::sleep(Duration::from_millis(500));
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(rest, "bye\n");
    assert_eq!(status.code(), Some(3));
}

#[test]
fn sigterm_to_an_init_without_a_trap_is_ignored_and_a_second_one_stops_friscy() {
    let Some(image) = alpine_tar() else { return };
    let mut child = Command::new(built("friscy"))
        .args(["run", "--rootfs"])
        .arg(&image)
        .args(["--", "/bin/sleep", "100"])
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let pid = child.id().to_string();
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    // sleep as pid 1 has no handler: it ignores SIGTERM, as in a container.
    assert!(
        child.try_wait().unwrap().is_none(),
        "pid 1 died of an ignored SIGTERM"
    );
    Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(128 + 15));
}

/// `stty -a` on the console (friscy run -t) against Linux on a fresh pty (the reference
/// under `script`): the same settings and control characters. Sizes differ by design (a
/// fresh Linux pty has none, friscy's console says 24x80 when the host does not know),
/// and the console adds iutf8.
#[test]
fn stty_settings_match_linux() {
    let Some(image) = alpine_tar() else { return };
    if let Err(why) = reference_ready(&image) {
        loud(&format!("SKIPPED: the reference is unavailable: {why}"));
        return;
    }
    let ours = run(Command::new(built("friscy"))
        .args(["run", "-t", "--rootfs"])
        .arg(&image)
        .args(["--", "stty", "-a"])
        .stdin(std::process::Stdio::null()));
    assert_eq!(ours.status, Some(0), "{}", ours.stderr);
    let script = format!(
        "{} {} -- stty -a",
        friscy_tests::root().join("scripts/reference.sh").display(),
        image.display()
    );
    let theirs = reference_under_pty(&script);
    // From the control characters on: the first line has the size, which a fresh Linux
    // pty does not have (busybox stty reports the failed TIOCGWINSZ there).
    let settings = |s: &str| -> Vec<String> {
        s.replace("\r\n", "\n")
            .lines()
            .skip_while(|l| !l.starts_with("intr ="))
            .flat_map(|l| l.split([' ', ';']))
            .filter(|w| !w.is_empty() && *w != "iutf8" && *w != "-iutf8")
            .map(str::to_string)
            .collect()
    };
    assert_eq!(
        settings(&ours.stdout),
        settings(&theirs),
        "ours:\n{}\nLinux:\n{theirs}",
        ours.stdout
    );
}

/// Run a shell command under `script`, which gives it a new pty with Linux's defaults.
fn reference_under_pty(cmd: &str) -> String {
    let r = run(Command::new("script")
        .args(["-qec", cmd, "/dev/null"])
        .stdin(std::process::Stdio::null()));
    assert_eq!(r.status, Some(0), "{}{}", r.stdout, r.stderr);
    r.stdout
}

/// Under a plain `wasmtime run` on a terminal (console-wasi: cooked), the guest sees a
/// tty with ECHO off, and a typed line shows once (the host's echo) and arrives edited.
#[test]
fn wasmtime_cli_on_a_terminal_gives_a_cooked_console() {
    if !tmux_ready() {
        return;
    }
    let cmd: Vec<String> = [
        friscy_tests::tool("wasmtime").display().to_string(),
        "run".into(),
        built("friscy.wasm").display().to_string(),
        "--".into(),
        "/bin/tty_console".into(),
    ]
    .into();
    let t = Tmux::start(&cmd);
    let s = t.wait_for("the program's report", |s| s.contains("ready"));
    assert!(s.contains("ttyname /dev/pts/0 isatty 111"), "{s}");
    assert!(s.contains("icanon 1 echo 0 isig 1"), "{s}");
    assert!(s.contains("size 24 80"), "{s}");
    t.tmux(&["send-keys", "-t", "t", "-l", "helo"]);
    t.keys(&["BSpace"]);
    t.type_line("lo");
    let s = t.wait_for("the line read", |s| s.contains("read 6: hello"));
    assert_eq!(s.lines().filter(|l| l.contains("hello")).count(), 2, "{s}");
}
