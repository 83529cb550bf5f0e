//! One container as the daemon sees it: its task process (`runner.rs`), the pipe that
//! controls it, its status and exit, and the root filesystem the daemon mounted for it.

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::Stdio;

use anyhow::{Context, Result, anyhow, bail};
use containerd_shim::protos::api::Mount;
use containerd_shim::protos::protobuf::well_known_types::timestamp::Timestamp;

use crate::plan::{self, Plan};
use crate::runner::Control;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Created,
    Running,
    Stopped,
}

pub struct Task {
    pub id: String,
    pub bundle: PathBuf,
    pub stdio: plan::Stdio,
    pub terminal: bool,
    pub pid: u32,
    pub status: Status,
    /// Exit status and time, once the task process is gone.
    pub exit: Option<(u32, Timestamp)>,
    /// The write end of the task process's control pipe.
    control: Option<File>,
    /// The root filesystem the daemon mounted (unmounted at delete).
    mounted: Option<PathBuf>,
}

/// Mount containerd's rootfs mounts (an overlay of the image's layers, or a bind of a
/// native snapshot) at `target`, as runc's shim does before runc runs.
pub fn mount_rootfs(mounts: &[Mount], target: &Path) -> Result<()> {
    std::fs::create_dir_all(target).with_context(|| format!("creating {}", target.display()))?;
    for m in mounts {
        containerd_shim::mount::mount_rootfs(
            Some(m.type_.as_str()).filter(|t| !t.is_empty()),
            Some(m.source.as_str()).filter(|s| !s.is_empty()),
            &m.options,
            target,
        )
        .map_err(|e| anyhow!("mounting the rootfs ({} {}): {e}", m.type_, m.source))?;
    }
    Ok(())
}

pub fn unmount_rootfs(target: &Path) {
    if let Some(t) = target.to_str()
        && let Err(e) = containerd_shim::mount::umount_recursive(Some(t), nix::libc::MNT_DETACH)
    {
        log::warn!("unmounting {t}: {e}");
    }
}

impl Task {
    /// Start the task process for `plan` and register it; `ready` is then awaited with
    /// `wait_ready` (without the daemon's lock: compiling can take seconds).
    pub fn spawn(
        id: &str,
        bundle: &Path,
        plan: &Plan,
        mounted: Option<PathBuf>,
    ) -> Result<(Task, BufReader<File>)> {
        let (control_read, mut control) = std::io::pipe()?;
        let (status, status_write) = std::io::pipe()?;
        let exe = std::env::current_exe().context("locating the shim executable")?;
        let child = std::process::Command::new(exe)
            .arg(crate::TASK_COMMAND)
            .current_dir(bundle)
            .stdin(Stdio::from(control_read))
            .stdout(Stdio::from(status_write.try_clone()?))
            .stderr(Stdio::from(status_write))
            .spawn()
            .context("starting the task process")?;
        // The reaper (containerd-shim's SIGCHLD handler) waits for it, not us.
        let pid = child.id();
        drop(child);
        let mut line = serde_json::to_string(plan)?;
        line.push('\n');
        control
            .write_all(line.as_bytes())
            .context("sending the plan to the task process")?;
        let task = Task {
            id: id.to_string(),
            bundle: bundle.to_path_buf(),
            stdio: plan.stdio.clone(),
            terminal: plan.terminal,
            pid,
            status: Status::Created,
            exit: None,
            control: Some(File::from(std::os::fd::OwnedFd::from(control))),
            mounted,
        };
        Ok((
            task,
            BufReader::new(File::from(std::os::fd::OwnedFd::from(status))),
        ))
    }

    /// Send a message to the task process (nothing happens once it is gone).
    pub fn send(&mut self, message: Control) {
        if let Some(c) = &mut self.control
            && c.write_all(message.line().as_bytes()).is_err()
        {
            self.control = None;
        }
    }

    pub fn exited(&mut self, status: u32, at: Timestamp) {
        self.status = Status::Stopped;
        self.exit = Some((status, at));
        self.control = None;
    }

    /// Unmount what create mounted.
    pub fn release(&mut self) {
        if let Some(target) = self.mounted.take() {
            unmount_rootfs(&target);
        }
    }
}

/// Wait for the task process's first line: `ready`, or what went wrong.
pub fn wait_ready(status: &mut BufReader<File>) -> Result<()> {
    let mut text = String::new();
    let mut line = String::new();
    while status.read_line(&mut line)? > 0 {
        if line.trim_end() == "ready" {
            return Ok(());
        }
        text.push_str(&line);
        line.clear();
    }
    let text = text.trim();
    if text.is_empty() {
        bail!("the task process ended before it was ready")
    }
    bail!("{text}")
}
