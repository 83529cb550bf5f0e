//! Keeping the writable layer between runs, where the host can (a browser page keeps it in
//! OPFS; `Host::keeps_layer`). The vfs writes the layer as an OCI layer tar
//! (`Fs::export_layer`); this module decides when.
//!
//! When: a save writes the whole layer, so it is not done on every change. The kernel
//! saves when the guest has gone idle (every thread parked: typically a shell back at its
//! prompt) and the tree changed since the last save, at most once per `SAVE_INTERVAL_NS`
//! (a later idle moment, or a timer the idle wait sleeps until, catches the rest); on
//! sync(2) and syncfs(2), so a guest or a user can force one; and when process 1 exits. A
//! page going away cannot wait for a save (its worker is killed with it), which is why the
//! kernel does not wait for one: changes made in the last second of a busy guest can be
//! lost, as on a machine that loses power before its writeback.

use crate::Kernel;

/// The least time between two saves made because the guest went idle.
pub const SAVE_INTERVAL_NS: u64 = 1_000_000_000;

/// Where saving stands.
#[derive(Default)]
pub struct LayerState {
    /// The filesystem generation last saved (or taken as the baseline).
    saved: u64,
    /// When the last save happened (monotonic ns).
    last_save: Option<u64>,
}

impl Kernel {
    /// Paths the runtime makes itself on every start: never part of the saved layer.
    fn runtime_paths(&mut self) -> Vec<Vec<u8>> {
        let mut paths = vec![b"/dev".to_vec(), b"/proc".to_vec()];
        // Rewritten to name the embedded DNS responder (dns.rs) on every start with the
        // network on. (Remembered then, not asked of the backend here: asking makes a
        // relay take in its pending messages in the middle of the idle wait, where a
        // socket they made ready would wake no one.)
        if self.resolv_conf_written {
            paths.push(b"/etc/resolv.conf".to_vec());
        }
        paths
    }

    /// What the tree holds now needs no saving (the runtime's own files, a layer just
    /// restored).
    pub fn layer_baseline(&mut self) {
        self.layer.saved = self.fs.generation();
    }

    /// Whether the tree changed since the last save, for a host that keeps the layer.
    fn layer_dirty(&self) -> bool {
        self.host.keeps_layer() && self.fs.generation() != self.layer.saved
    }

    /// Save the writable layer now if it changed.
    pub fn save_layer(&mut self) {
        if !self.layer_dirty() {
            return;
        }
        let generation = self.fs.generation();
        let exclude = self.runtime_paths();
        match self.fs.export_layer(&exclude) {
            Ok(tar) => {
                self.host.save_layer(&tar);
                self.layer.saved = generation;
                self.layer.last_save = Some(self.host.monotonic_ns());
                if self.trace {
                    self.report(&format!("saved the writable layer ({} bytes)", tar.len()));
                }
            }
            Err(e) => {
                // Not retried until the next change.
                self.layer.saved = generation;
                self.report(&format!("cannot save the writable layer: {}", e.message()));
            }
        }
    }

    /// Called when every thread is parked: save if the tree changed and the last save was
    /// long enough ago; otherwise return when to try again (a deadline for the idle wait).
    pub(crate) fn save_layer_when_idle(&mut self) -> Option<u64> {
        if !self.layer_dirty() {
            return None;
        }
        let now = self.host.monotonic_ns();
        match self.layer.last_save {
            Some(t) if now < t + SAVE_INTERVAL_NS => Some(t + SAVE_INTERVAL_NS),
            _ => {
                self.save_layer();
                None
            }
        }
    }
}
