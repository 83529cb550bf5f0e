//! The writable layer kept between runs (persist.rs): a host that keeps it gets a save on
//! sync(2) and when process 1 exits, each an OCI layer tar of exactly the guest's changes
//! (not /dev, which the kernel makes itself); a kernel started from the image plus that
//! layer sees the changes; a host that keeps nothing is never asked to save.

mod harness;

use std::cell::RefCell;
use std::io::Read;
use std::rc::Rc;

use friscy_abi::Errno;
use friscy_kernel::{Host, Kernel, Stdio};

#[derive(Default)]
struct Shared {
    stdout: Vec<u8>,
    stderr: Vec<u8>,
    saves: Vec<Vec<u8>>,
}

struct LayerHost {
    shared: Rc<RefCell<Shared>>,
    keeps: bool,
    start: std::time::Instant,
}

impl Host for LayerHost {
    fn read_stdin(&mut self, _: usize) -> Option<Vec<u8>> {
        Some(Vec::new())
    }
    fn write(&mut self, stream: Stdio, data: &[u8]) -> Result<(), Errno> {
        let mut s = self.shared.borrow_mut();
        match stream {
            Stdio::Err => s.stderr.extend_from_slice(data),
            _ => s.stdout.extend_from_slice(data),
        }
        Ok(())
    }
    fn wall_clock(&self) -> (i64, u32) {
        (1_700_000_000, 0)
    }
    fn monotonic_ns(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }
    fn random(&mut self, buf: &mut [u8]) {
        buf.fill(7);
    }
    fn diagnostic(&mut self, line: &str) {
        self.shared
            .borrow_mut()
            .stderr
            .extend_from_slice(line.as_bytes());
    }
    fn wait(&mut self, _: bool, deadline: Option<u64>, _: Vec<u32>) {
        if let Some(d) = deadline {
            let now = self.monotonic_ns();
            std::thread::sleep(std::time::Duration::from_nanos(d.saturating_sub(now)));
        }
    }
    fn keeps_layer(&self) -> bool {
        self.keeps
    }
    fn save_layer(&mut self, layer: &[u8]) {
        self.shared.borrow_mut().saves.push(layer.to_vec());
    }
}

fn image() -> Vec<u8> {
    let prog = std::fs::read(harness::guest("layer_save")).unwrap();
    harness::tar(&[
        ("bin/layer_save", 0o755, prog),
        ("etc/gone", 0o644, b"delete me\n".to_vec()),
    ])
}

/// Runs `layer_save ARG` over the image plus `layer`: (status, stdout, saves).
fn run(arg: &str, layer: &[u8], keeps: bool) -> (u8, String, Vec<Vec<u8>>) {
    let shared = Rc::new(RefCell::new(Shared::default()));
    let mut vfs = friscy_vfs::Vfs::new(image()).unwrap();
    vfs.apply_layer(&layer.to_vec()).unwrap();
    let host = LayerHost {
        shared: shared.clone(),
        keeps,
        start: std::time::Instant::now(),
    };
    let mut k = Kernel::new(
        Box::new(friscy_exec::Machines::new()),
        Box::new(vfs),
        Box::new(host),
    );
    let status = k.run_command(vec![b"/bin/layer_save".to_vec(), arg.into()], vec![]);
    let s = shared.borrow();
    assert!(
        s.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&s.stderr)
    );
    (
        status,
        String::from_utf8_lossy(&s.stdout).into(),
        s.saves.clone(),
    )
}

fn names(layer: &[u8]) -> Vec<String> {
    let mut a = tar::Archive::new(layer);
    let mut out = Vec::new();
    for e in a.entries().unwrap() {
        let mut e = e.unwrap();
        let mut data = String::new();
        e.read_to_string(&mut data).unwrap();
        out.push(format!("{} {data:?}", e.path().unwrap().display()));
    }
    out
}

#[test]
fn changes_are_saved_on_sync_and_at_exit_and_restored() {
    let (status, _, saves) = run("write", &[], true);
    assert_eq!(status, 0);
    assert!(
        saves.len() >= 2,
        "a save on sync and one at exit: {}",
        saves.len()
    );
    // sync(2) came after the new file, before the deletion.
    assert_eq!(names(&saves[0]), ["kept.txt \"kept\\n\""]);
    let last = saves.last().unwrap();
    assert_eq!(
        names(last),
        ["etc/ \"\"", "etc/.wh.gone \"\"", "kept.txt \"kept\\n\""]
    );

    let (status, out, saves) = run("show", last, true);
    assert_eq!(status, 0);
    assert_eq!(out, "kept.txt: kept\n/etc/gone: absent\n");
    assert!(
        saves.is_empty(),
        "nothing changed, nothing saved: {}",
        saves.len()
    );
    // And the image alone has neither change.
    let (_, out, _) = run("show", &[], true);
    assert_eq!(out, "kept.txt: missing\n/etc/gone: present\n");
}

#[test]
fn a_host_that_keeps_nothing_is_never_asked() {
    let (status, _, saves) = run("write", &[], false);
    assert_eq!(status, 0);
    assert!(saves.is_empty());
}
