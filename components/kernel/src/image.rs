//! The image configuration (`friscy:vfs/image`): what `docker run IMAGE [CMD...]` takes
//! from an image's config, applied to the command line and environment the host gave.
//!
//! friscy-pack bakes the config into the rootfs data component as JSON (the same object as
//! a bundle's manifest.json, docs/PACK.md). An empty config means "no image config": the
//! command line is used as it is, and an empty one is the usual usage error.
//!
//! Docker's rules (docker run reference, "Default command and options"):
//! - argv is the entrypoint followed by the command-line arguments, or by the image's cmd
//!   when there are none (arguments replace cmd, never the entrypoint);
//! - the environment is the image's, with every variable given at run time replacing the
//!   image's value of the same name (`wasmtime run --env` wins, like `docker run -e`);
//! - the working directory is the image's, created if the image lacks it, else `/`.
//!
//! `user` is read but not applied: the kernel has no credentials yet (every process runs
//! as root, see syscalls/process.rs), so a non-root user is reported once with `--trace`.

use friscy_abi::Errno;
use friscy_abi::mode::S_IFDIR;
use friscy_vfs::Ino;
use serde_json::Value;

use crate::Kernel;

/// What to run: the guest's argv and environment and its working directory.
#[derive(Debug, PartialEq, Eq)]
pub struct Launch {
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    pub cwd: Vec<u8>,
    /// The image's `user`, empty when unset (not applied, see the module comment).
    pub user: String,
}

/// Combine the image config (JSON bytes, possibly empty) with the host's command line and
/// environment. Errors are one line, for the user.
pub fn launch(config: &[u8], args: Vec<Vec<u8>>, env: Vec<Vec<u8>>) -> Result<Launch, String> {
    if config.is_empty() {
        return Ok(Launch {
            argv: args,
            envp: env,
            cwd: b"/".to_vec(),
            user: String::new(),
        });
    }
    let config: Value =
        serde_json::from_slice(config).map_err(|e| format!("the image config is not JSON: {e}"))?;
    let entrypoint = strings(&config, "entrypoint")?;
    let cmd = strings(&config, "cmd")?;
    let mut argv = entrypoint.clone();
    if args.is_empty() {
        argv.extend(cmd.iter().cloned());
    } else {
        argv.extend(args);
    }
    if argv.is_empty() {
        return Err(
            "the image has neither an entrypoint nor a cmd: give a command \
                    (wasmtime run IMAGE.wasm -- /bin/sh)"
                .into(),
        );
    }
    let mut envp = strings(&config, "env")?;
    for var in env {
        let key = var.split(|&b| b == b'=').next().unwrap_or_default();
        match envp
            .iter_mut()
            .find(|e| e.split(|&b| b == b'=').next() == Some(key))
        {
            Some(slot) => *slot = var,
            None => envp.push(var),
        }
    }
    let cwd = match config.get("working_dir").and_then(Value::as_str) {
        Some(dir) if !dir.is_empty() => dir.as_bytes().to_vec(),
        _ => b"/".to_vec(),
    };
    let user = config
        .get("user")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string();
    Ok(Launch {
        argv,
        envp,
        cwd,
        user,
    })
}

/// A list of strings from the config, `[]` when absent or null.
fn strings(config: &Value, key: &str) -> Result<Vec<Vec<u8>>, String> {
    match config.get(key) {
        None | Some(Value::Null) => Ok(Vec::new()),
        Some(Value::Array(items)) => items
            .iter()
            .map(|v| {
                v.as_str()
                    .map(|s| s.as_bytes().to_vec())
                    .ok_or_else(|| format!("the image config's {key} holds a non-string"))
            })
            .collect(),
        Some(_) => Err(format!("the image config's {key} is not a list of strings")),
    }
}

impl Kernel {
    /// The working directory for process 1, made (mode 0755) where the image lacks it,
    /// as Docker does for WORKDIR.
    pub fn working_dir(&mut self, path: &[u8]) -> Result<Ino, String> {
        let root = self.fs.root();
        let mut dir = root;
        for name in path.split(|&b| b == b'/').filter(|n| !n.is_empty()) {
            dir = match self.fs.lookup(dir, name, true) {
                Ok(ino) => ino,
                Err(Errno::ENOENT) => self
                    .fs
                    .create(dir, name, S_IFDIR | 0o755, 0)
                    .map_err(|e| workdir_error(path, e))?,
                Err(e) => return Err(workdir_error(path, e)),
            };
        }
        Ok(dir)
    }
}

fn workdir_error(path: &[u8], e: Errno) -> String {
    format!("working directory {}: {e:?}", String::from_utf8_lossy(path))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(items: &[&str]) -> Vec<Vec<u8>> {
        items.iter().map(|s| s.as_bytes().to_vec()).collect()
    }

    const CONFIG: &str = r#"{"entrypoint":["/bin/tini","--"],"cmd":["/bin/sh","-c","echo hi"],
        "env":["PATH=/usr/bin:/bin","LANG=C"],"working_dir":"/srv","user":"nobody"}"#;

    #[test]
    fn no_config_leaves_the_command_line_alone() {
        let l = launch(b"", v(&["/bin/ls"]), v(&["A=1"])).unwrap();
        assert_eq!(
            (l.argv, l.envp, l.cwd),
            (v(&["/bin/ls"]), v(&["A=1"]), b"/".to_vec())
        );
    }

    #[test]
    fn without_arguments_the_entrypoint_runs_the_cmd() {
        let l = launch(CONFIG.as_bytes(), vec![], vec![]).unwrap();
        assert_eq!(l.argv, v(&["/bin/tini", "--", "/bin/sh", "-c", "echo hi"]));
        assert_eq!(l.cwd, b"/srv");
        assert_eq!(l.user, "nobody");
    }

    #[test]
    fn arguments_replace_the_cmd_but_not_the_entrypoint() {
        let l = launch(CONFIG.as_bytes(), v(&["/bin/busybox", "ls"]), vec![]).unwrap();
        assert_eq!(l.argv, v(&["/bin/tini", "--", "/bin/busybox", "ls"]));
    }

    #[test]
    fn run_time_environment_wins_over_the_images() {
        let l = launch(CONFIG.as_bytes(), vec![], v(&["LANG=fr_FR", "X=y"])).unwrap();
        assert_eq!(l.envp, v(&["PATH=/usr/bin:/bin", "LANG=fr_FR", "X=y"]));
    }

    #[test]
    fn neither_entrypoint_nor_cmd_nor_arguments_is_an_error() {
        let err = launch(br#"{"env":["A=1"]}"#, vec![], vec![]).unwrap_err();
        assert!(err.contains("neither an entrypoint nor a cmd"), "{err}");
        let l = launch(br#"{"cmd":null}"#, v(&["/bin/true"]), vec![]).unwrap();
        assert_eq!(l.argv, v(&["/bin/true"]));
    }

    #[test]
    fn malformed_config_is_a_clear_error() {
        assert!(
            launch(b"{", vec![], vec![])
                .unwrap_err()
                .contains("not JSON")
        );
        let err = launch(br#"{"cmd":"sh"}"#, vec![], vec![]).unwrap_err();
        assert!(err.contains("cmd is not a list"), "{err}");
    }
}
