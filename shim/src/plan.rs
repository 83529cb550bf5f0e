//! What to run, from the OCI runtime spec containerd wrote into the bundle (config.json):
//! the process's args, env, working directory and user, the mounts friscy can honour, the
//! limits, the terminal and the network namespace. The daemon makes the plan (so a spec
//! friscy cannot run fails `ctr run` at create) and hands it to the task process, which
//! runs it (`runner.rs`).
//!
//! Mounts: a bind mount of a host directory becomes a friscy host-directory mount (the
//! same as `friscy run -v`), read-only when its options say `ro`. /proc, /dev and their
//! submounts are friscy's own (the kernel serves them); /sys and cgroups do not exist in
//! friscy; tmpfs mounts are not needed, since every write already stays in memory. What is
//! left out is noted in the shim's log. Bind mounts of single files are not supported by
//! friscy's mounts and are left out too (noted).

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use oci_spec::runtime::{LinuxNamespaceType, Spec};
use serde::{Deserialize, Serialize};

/// A host directory mounted into the guest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Volume {
    pub host: PathBuf,
    pub guest: String,
    pub read_only: bool,
}

/// The guest's network: the container's network namespace, which the task process joins
/// before it starts the guest, whose sockets then live there (as runc's processes do).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Network {
    /// No network namespace in the spec (`ctr run --net-host`): the host's network.
    Host,
    /// A namespace to create: only a loopback interface.
    New,
    /// An existing namespace to join (a Kubernetes pod's, set up by CNI).
    Join(PathBuf),
}

/// The container's standard streams: containerd's FIFOs (empty: none).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stdio {
    pub stdin: String,
    pub stdout: String,
    pub stderr: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// The root filesystem directory: the snapshot containerd unpacked (mounted at the
    /// bundle's rootfs), read in place.
    pub rootfs: PathBuf,
    pub args: Vec<String>,
    /// The guest's environment, then friscy's limits (FRISCY_MEMORY, FRISCY_PIDS_LIMIT).
    pub env: Vec<(String, String)>,
    /// The image config the kernel applies (`friscy:vfs/image`): working directory and
    /// user. The args are always given, so it carries no entrypoint or cmd.
    pub config: String,
    pub volumes: Vec<Volume>,
    pub terminal: bool,
    /// The terminal's initial size (rows, columns).
    pub size: Option<(u16, u16)>,
    pub network: Network,
    /// A Kubernetes pod sandbox ("pause") container: nothing to run, it only holds the
    /// pod's namespaces until it is killed.
    pub sandbox: bool,
    pub stdio: Stdio,
    /// What of the spec is not honoured, for the shim's log.
    pub notes: Vec<String>,
}

/// Environment variables that carry limits: the spec's, never the image's or the user's.
const LIMIT_VARS: [&str; 2] = ["FRISCY_MEMORY", "FRISCY_PIDS_LIMIT"];

/// Mount destinations whose contents friscy provides itself.
fn provided_by_friscy(dest: &str) -> bool {
    dest == "/proc" || dest.starts_with("/proc/") || dest == "/dev" || dest.starts_with("/dev/")
}

fn is_bind(typ: Option<&str>, options: &[String]) -> bool {
    typ == Some("bind") || options.iter().any(|o| o == "bind" || o == "rbind")
}

/// Make the plan for the spec in `bundle` (its config.json).
pub fn load(bundle: &Path) -> Result<Plan> {
    let path = bundle.join("config.json");
    let spec = Spec::load(&path).with_context(|| format!("reading {}", path.display()))?;
    plan(&spec, bundle)
}

pub fn plan(spec: &Spec, bundle: &Path) -> Result<Plan> {
    let mut notes = Vec::new();
    let root = spec.root().as_ref().context("the spec has no root")?;
    let rootfs = if root.path().is_absolute() {
        root.path().clone()
    } else {
        bundle.join(root.path())
    };
    let process = spec.process().as_ref().context("the spec has no process")?;
    let args = process.args().clone().unwrap_or_default();
    if args.is_empty() {
        bail!("the spec's process has no args");
    }

    let mut env = Vec::new();
    for var in process.env().iter().flatten() {
        let (k, v) = var.split_once('=').unwrap_or((var, ""));
        if LIMIT_VARS.contains(&k) {
            notes.push(format!(
                "{k} from the environment ignored: limits come from the spec"
            ));
            continue;
        }
        env.push((k.to_string(), v.to_string()));
    }
    let resources = spec.linux().as_ref().and_then(|l| l.resources().as_ref());
    if let Some(limit) = resources
        .and_then(|r| r.memory().as_ref())
        .and_then(|m| m.limit())
        .filter(|&l| l > 0)
    {
        env.push(("FRISCY_MEMORY".into(), limit.to_string()));
    }
    if let Some(limit) = resources
        .and_then(|r| r.pids().as_ref())
        .map(|p| p.limit())
        .filter(|&l| l > 0)
    {
        env.push(("FRISCY_PIDS_LIMIT".into(), limit.to_string()));
    }

    let user = process.user();
    if user
        .additional_gids()
        .as_ref()
        .is_some_and(|g| !g.is_empty())
    {
        notes.push("additional groups ignored: a process has its uid and gid only".into());
    }
    let config = serde_json::json!({
        "working_dir": process.cwd().to_string_lossy(),
        "user": format!("{}:{}", user.uid(), user.gid()),
    })
    .to_string();

    let mut volumes = Vec::new();
    for m in spec.mounts().iter().flatten() {
        let dest = m.destination().to_string_lossy().into_owned();
        let options = m.options().clone().unwrap_or_default();
        let typ = m.typ().as_deref();
        if provided_by_friscy(&dest) {
            continue;
        }
        if dest == "/sys" || dest.starts_with("/sys/") {
            notes.push(format!("{dest}: friscy has no /sys"));
            continue;
        }
        if typ == Some("tmpfs") {
            // Every write lands in friscy's in-memory layer already.
            continue;
        }
        if !is_bind(typ, &options) {
            notes.push(format!(
                "{dest}: {} mounts are not supported",
                typ.unwrap_or("untyped")
            ));
            continue;
        }
        let Some(source) = m.source() else {
            notes.push(format!("{dest}: a bind mount without a source"));
            continue;
        };
        if !source.is_dir() {
            notes.push(format!(
                "{dest}: {} is not a directory; friscy mounts only directories",
                source.display()
            ));
            continue;
        }
        if !dest.starts_with('/') || dest.trim_matches('/').is_empty() {
            notes.push(format!("{dest}: not a mount point friscy can use"));
            continue;
        }
        volumes.push(Volume {
            host: source.clone(),
            guest: dest,
            read_only: options.iter().any(|o| o == "ro"),
        });
    }

    let network = match spec
        .linux()
        .as_ref()
        .and_then(|l| l.namespaces().as_ref())
        .and_then(|ns| ns.iter().find(|n| n.typ() == LinuxNamespaceType::Network))
    {
        None => Network::Host,
        Some(ns) => match ns.path() {
            Some(p) => Network::Join(p.clone()),
            None => Network::New,
        },
    };

    let annotations = spec.annotations().as_ref();
    let sandbox = annotations
        .and_then(|a| a.get("io.kubernetes.cri.container-type"))
        .is_some_and(|t| t == "sandbox");

    Ok(Plan {
        rootfs,
        args,
        env,
        config,
        volumes,
        terminal: process.terminal().unwrap_or(false),
        size: process.console_size().map(|b| {
            (
                b.height().min(u16::MAX as u64) as u16,
                b.width().min(u16::MAX as u64) as u16,
            )
        }),
        network,
        sandbox,
        stdio: Stdio::default(),
        notes,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: serde_json::Value) -> Spec {
        serde_json::from_value(json).unwrap()
    }

    fn base() -> serde_json::Value {
        serde_json::json!({
            "ociVersion": "1.0.2",
            "root": {"path": "rootfs"},
            "process": {
                "args": ["/bin/sh", "-c", "echo hi"],
                "env": ["PATH=/bin", "FRISCY_MEMORY=9999999999", "A=b=c"],
                "cwd": "/srv",
                "user": {"uid": 1000, "gid": 100, "additionalGids": [10]},
                "terminal": true,
                "consoleSize": {"height": 30, "width": 100}
            },
            "linux": {
                "resources": {"memory": {"limit": 268435456}, "pids": {"limit": 64}},
                "namespaces": [{"type": "pid"}, {"type": "network"}]
            }
        })
    }

    #[test]
    fn process_limits_and_terminal_come_from_the_spec() {
        let p = plan(&spec(base()), Path::new("/run/b")).unwrap();
        assert_eq!(p.rootfs, Path::new("/run/b/rootfs"));
        assert_eq!(p.args, ["/bin/sh", "-c", "echo hi"]);
        let env: Vec<String> = p.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        // The environment cannot raise its own limit; the spec's comes last.
        assert_eq!(
            env,
            [
                "PATH=/bin",
                "A=b=c",
                "FRISCY_MEMORY=268435456",
                "FRISCY_PIDS_LIMIT=64"
            ]
        );
        let config: serde_json::Value = serde_json::from_str(&p.config).unwrap();
        assert_eq!(config["working_dir"], "/srv");
        assert_eq!(config["user"], "1000:100");
        assert!(config.get("cmd").is_none() && config.get("entrypoint").is_none());
        assert!(p.terminal);
        assert_eq!(p.size, Some((30, 100)));
        assert_eq!(p.network, Network::New);
        assert!(!p.sandbox);
        assert_eq!(p.notes.len(), 2, "{:?}", p.notes);
    }

    #[test]
    fn mounts_become_friscy_mounts_or_notes() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("hosts");
        std::fs::write(&file, "127.0.0.1 localhost\n").unwrap();
        let mut s = base();
        s["mounts"] = serde_json::json!([
            {"destination": "/proc", "type": "proc", "source": "proc"},
            {"destination": "/dev", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/dev/pts", "type": "devpts", "source": "devpts"},
            {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["ro"]},
            {"destination": "/run", "type": "tmpfs", "source": "tmpfs"},
            {"destination": "/data", "type": "bind", "source": dir.path(), "options": ["rbind", "rw"]},
            {"destination": "/ro", "source": dir.path(), "options": ["rbind", "ro"]},
            {"destination": "/etc/hosts", "type": "bind", "source": file, "options": ["rbind", "ro"]},
            {"destination": "/x", "type": "overlay", "source": "overlay"}
        ]);
        s["linux"]["namespaces"] =
            serde_json::json!([{"type": "network", "path": "/var/run/netns/cni-1"}]);
        s["annotations"] = serde_json::json!({"io.kubernetes.cri.container-type": "sandbox"});
        let p = plan(&spec(s), Path::new("/b")).unwrap();
        assert_eq!(
            p.volumes,
            [
                Volume {
                    host: dir.path().into(),
                    guest: "/data".into(),
                    read_only: false
                },
                Volume {
                    host: dir.path().into(),
                    guest: "/ro".into(),
                    read_only: true
                }
            ]
        );
        let notes = p.notes.join("\n");
        assert!(notes.contains("/sys: friscy has no /sys"), "{notes}");
        assert!(
            notes.contains("/etc/hosts:") && notes.contains("not a directory"),
            "{notes}"
        );
        assert!(notes.contains("/x: overlay mounts"), "{notes}");
        assert!(
            !notes.contains("/proc") && !notes.contains("/run"),
            "{notes}"
        );
        assert_eq!(p.network, Network::Join("/var/run/netns/cni-1".into()));
        assert!(p.sandbox);
    }

    #[test]
    fn no_network_namespace_is_the_hosts_network() {
        let mut s = base();
        s["linux"]["namespaces"] = serde_json::json!([{"type": "mount"}]);
        assert_eq!(
            plan(&spec(s), Path::new("/b")).unwrap().network,
            Network::Host
        );
    }

    #[test]
    fn a_spec_without_args_is_refused() {
        let mut s = base();
        s["process"]["args"] = serde_json::json!([]);
        let err = plan(&spec(s), Path::new("/b")).unwrap_err();
        assert!(err.to_string().contains("no args"), "{err}");
    }
}
