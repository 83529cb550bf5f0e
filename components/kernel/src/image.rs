//! The image configuration (`friscy:vfs/image`): what `docker run IMAGE [CMD...]` takes
//! from an image's config, applied to the command line and environment the host gave,
//! with the run-time overrides `docker run` has (`--entrypoint`, `-w`, `-u`,
//! `--hostname`), which reach the kernel as FRISCY_* variables so that `friscy run` and
//! a plain `wasmtime run --env` of a sealed component behave the same.
//!
//! friscy-pack bakes the config into the rootfs data component as JSON (the same object as
//! a bundle's manifest.json, docs/PACK.md). An empty config means "no image config": the
//! command line is used as it is, and an empty one is the usual usage error.
//!
//! Docker's rules (docker run reference, "Default command and options"; moby's
//! CreateDaemonEnvironment and runc's user lookup):
//! - argv is the entrypoint followed by the command-line arguments, or by the image's cmd
//!   when there are none (arguments replace cmd, never the entrypoint); `--entrypoint`
//!   replaces the entrypoint and clears the image's cmd (an empty one clears both);
//! - the environment is PATH, HOSTNAME, then the image's, with every variable given at
//!   run time replacing the image's value of the same name (`wasmtime run --env` wins,
//!   like `docker run -e`), and HOME from the user's passwd entry if still unset;
//! - the working directory is `-w`, else the image's, created if the image lacks it,
//!   else `/`;
//! - the user is `-u`, else the image's (users.rs resolves it in the image's
//!   /etc/passwd and /etc/group), else root.

use friscy_abi::Errno;
use friscy_abi::mode::S_IFDIR;
use friscy_vfs::Ino;
use serde_json::Value;

use crate::Kernel;
use crate::creds::Creds;
use crate::perm::ReadOnly;

/// What to run: the guest's argv and environment, its working directory and user.
#[derive(Debug, PartialEq, Eq)]
pub struct Launch {
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
    pub cwd: Vec<u8>,
    /// `USER[:GROUP]` from `-u` or the image; `None` when neither names one (root, with
    /// no supplementary groups).
    pub user: Option<String>,
}

/// `docker run`'s overrides of the image config (FRISCY_ENTRYPOINT, FRISCY_WORKDIR,
/// FRISCY_USER).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overrides {
    /// `--entrypoint`: `Some(empty)` clears the image's; either way its cmd goes.
    pub entrypoint: Option<Vec<u8>>,
    pub workdir: Option<Vec<u8>>,
    pub user: Option<String>,
}

/// Combine the image config (JSON bytes, possibly empty) with the host's command line,
/// environment and overrides. Errors are one line, for the user.
pub fn launch(
    config: &[u8],
    args: Vec<Vec<u8>>,
    env: Vec<Vec<u8>>,
    over: &Overrides,
) -> Result<Launch, String> {
    let config: Value = if config.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(config).map_err(|e| format!("the image config is not JSON: {e}"))?
    };
    let (entrypoint, cmd) = match &over.entrypoint {
        Some(e) if e.is_empty() => (Vec::new(), Vec::new()),
        Some(e) => (vec![e.clone()], Vec::new()),
        None => (strings(&config, "entrypoint")?, strings(&config, "cmd")?),
    };
    let mut argv = entrypoint;
    if args.is_empty() {
        argv.extend(cmd);
    } else {
        argv.extend(args);
    }
    // Without an image config or --entrypoint, no command is the usual usage error
    // (run_command_in reports it, status 2); with one it is Docker's "no command" (125).
    if argv.is_empty() && (!config.is_null() || over.entrypoint.is_some()) {
        return Err(
            "the image has neither an entrypoint nor a cmd: give a command \
                    (wasmtime run IMAGE.wasm -- /bin/sh)"
                .into(),
        );
    }
    let mut envp = strings(&config, "env")?;
    for var in env {
        set_env(&mut envp, var);
    }
    let cwd = match (
        &over.workdir,
        config.get("working_dir").and_then(Value::as_str),
    ) {
        (Some(dir), _) if !dir.is_empty() => dir.clone(),
        (_, Some(dir)) if !dir.is_empty() => dir.as_bytes().to_vec(),
        _ => b"/".to_vec(),
    };
    let user = match (&over.user, config.get("user").and_then(Value::as_str)) {
        (Some(u), _) => Some(u.clone()),
        (None, Some(u)) if !u.is_empty() => Some(u.to_string()),
        _ => None,
    };
    Ok(Launch {
        argv,
        envp,
        cwd,
        user,
    })
}

/// The value of `key` in an environment.
fn get_env<'a>(envp: &'a [Vec<u8>], key: &[u8]) -> Option<&'a [u8]> {
    envp.iter()
        .find_map(|e| e.strip_prefix(key).and_then(|rest| rest.strip_prefix(b"=")))
}

/// Set `KEY=VALUE` in place of the variable of the same name, or at the end.
fn set_env(envp: &mut Vec<Vec<u8>>, var: Vec<u8>) {
    let key = var.split(|&b| b == b'=').next().unwrap_or_default();
    match envp
        .iter_mut()
        .find(|e| e.split(|&b| b == b'=').next() == Some(key))
    {
        Some(slot) => *slot = var,
        None => envp.push(var),
    }
}

/// Docker's own variables: HOSTNAME after PATH (or first) unless given, and HOME from the
/// user's passwd entry at the end unless given.
pub fn default_env(envp: &mut Vec<Vec<u8>>, hostname: &[u8], home: &[u8]) {
    if get_env(envp, b"HOSTNAME").is_none() {
        let at = envp
            .iter()
            .position(|e| e.starts_with(b"PATH="))
            .map_or(0, |i| i + 1);
        envp.insert(at, [b"HOSTNAME=".as_slice(), hostname].concat());
    }
    if get_env(envp, b"HOME").is_none() {
        envp.push([b"HOME=".as_slice(), home].concat());
    }
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

/// What process 1 starts as.
pub struct Start {
    pub cwd: Ino,
    pub creds: Creds,
    pub argv: Vec<Vec<u8>>,
    pub envp: Vec<Vec<u8>>,
}

impl Kernel {
    /// Resolve the launch against the image: the user (in /etc/passwd and /etc/group),
    /// HOME and HOSTNAME, and the working directory (made if missing).
    pub fn prepare(&mut self, launch: Launch) -> Result<Start, String> {
        let passwd = self.read_image_file(b"/etc/passwd");
        let group = self.read_image_file(b"/etc/group");
        let spec = launch.user.as_deref().unwrap_or("");
        let user = crate::users::resolve(spec, passwd.as_deref(), group.as_deref())?;
        // With no user named, root keeps no supplementary groups (a process started by
        // root without initgroups, as the reference and the kernel's init have); a named
        // user gets the groups that list it, as Docker gives them.
        let groups = match launch.user {
            Some(_) => user.groups,
            None => Vec::new(),
        };
        let creds = Creds::new(user.uid, user.gid, groups);
        let mut envp = launch.envp;
        let hostname = self.hostname.clone();
        default_env(&mut envp, &hostname, &user.home);
        let cwd = self.working_dir(&launch.cwd)?;
        Ok(Start {
            cwd,
            creds,
            argv: launch.argv,
            envp,
        })
    }

    /// A whole file of the image, if it is there and readable.
    fn read_image_file(&mut self, path: &[u8]) -> Option<Vec<u8>> {
        let root = self.fs.root();
        let ino = self.fs.lookup(root, path, true).ok()?;
        let size = self.fs.stat(ino).ok()?.size;
        let mut data = Vec::new();
        while (data.len() as u64) < size.min(1 << 24) {
            let chunk = self.fs.read(ino, data.len() as u64, 1 << 20).ok()?;
            if chunk.is_empty() {
                break;
            }
            data.extend(chunk);
        }
        Some(data)
    }

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

    /// `--tmpfs PATH`: an empty directory (mode 1777, like a fresh tmpfs) at PATH,
    /// hiding what the image has there; writable under `--read-only`.
    pub fn tmpfs(&mut self, path: &[u8]) -> Result<Ino, String> {
        let err = |e: Errno| format!("--tmpfs {}: {e:?}", String::from_utf8_lossy(path));
        if !path.starts_with(b"/") || path.iter().all(|&b| b == b'/') {
            return Err(err(Errno::EINVAL));
        }
        let root = self.fs.root();
        let (parent, name) = self.fs.lookup_parent(root, path).map_err(err)?;
        // Make the parents like a mount point's (mkdir -p), then replace the directory.
        let parent = match self.fs.path(parent) {
            Ok(p) => self.working_dir(&p)?,
            Err(e) => return Err(err(e)),
        };
        if let Ok(old) = self.fs.lookup(parent, &name, false) {
            self.remove_tree(parent, &name, old).map_err(err)?;
        }
        self.fs
            .create(parent, &name, S_IFDIR | 0o1777, 0)
            .map_err(err)
    }

    /// Remove `name` (inode `ino`) from `dir`, and everything under it.
    fn remove_tree(&mut self, dir: Ino, name: &[u8], ino: Ino) -> Result<(), Errno> {
        let is_dir = self.fs.stat(ino)?.mode & friscy_abi::mode::S_IFMT == S_IFDIR;
        if is_dir {
            loop {
                let entries = self.fs.readdir(ino, 0, 256)?;
                let children: Vec<_> = entries
                    .into_iter()
                    .filter(|e| e.name != b"." && e.name != b"..")
                    .collect();
                if children.is_empty() {
                    break;
                }
                for c in children {
                    self.remove_tree(ino, &c.name, c.ino)?;
                }
            }
        }
        self.fs.remove(dir, name, is_dir)
    }

    /// `--read-only`: from now on the image's files, directories and symlinks cannot be
    /// changed, but for /dev, the `writable` directories and anything made from here on
    /// (perm.rs).
    pub fn make_read_only(&mut self, mut writable: Vec<Ino>) {
        let root = self.fs.root();
        // A probe gives the next inode number: everything below it exists already.
        let first_new = match self.fs.create(root, b".friscy-probe", 0o100000, 0) {
            Ok(ino) => {
                let _ = self.fs.remove(root, b".friscy-probe", false);
                ino
            }
            Err(_) => 0,
        };
        if let Ok(dev) = self.fs.lookup(root, b"dev", true) {
            writable.push(dev);
            for e in self.fs.readdir(dev, 0, 1024).unwrap_or_default() {
                if e.kind == 4 && e.name != b".." {
                    writable.push(e.ino); // DT_DIR: /dev/shm, /dev/pts, /dev/mqueue
                }
            }
        }
        self.read_only = Some(ReadOnly {
            first_new,
            writable,
        });
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

    fn none() -> Overrides {
        Overrides::default()
    }

    #[test]
    fn no_config_leaves_the_command_line_alone() {
        let l = launch(b"", v(&["/bin/ls"]), v(&["A=1"]), &none()).unwrap();
        assert_eq!(
            (l.argv, l.envp, l.cwd, l.user),
            (v(&["/bin/ls"]), v(&["A=1"]), b"/".to_vec(), None)
        );
        // No command is left to the usual usage error (status 2).
        assert!(
            launch(b"", vec![], vec![], &none())
                .unwrap()
                .argv
                .is_empty()
        );
    }

    #[test]
    fn without_arguments_the_entrypoint_runs_the_cmd() {
        let l = launch(CONFIG.as_bytes(), vec![], vec![], &none()).unwrap();
        assert_eq!(l.argv, v(&["/bin/tini", "--", "/bin/sh", "-c", "echo hi"]));
        assert_eq!(l.cwd, b"/srv");
        assert_eq!(l.user.as_deref(), Some("nobody"));
    }

    #[test]
    fn arguments_replace_the_cmd_but_not_the_entrypoint() {
        let l = launch(
            CONFIG.as_bytes(),
            v(&["/bin/busybox", "ls"]),
            vec![],
            &none(),
        )
        .unwrap();
        assert_eq!(l.argv, v(&["/bin/tini", "--", "/bin/busybox", "ls"]));
    }

    #[test]
    fn run_time_environment_wins_over_the_images() {
        let l = launch(
            CONFIG.as_bytes(),
            vec![],
            v(&["LANG=fr_FR", "X=y"]),
            &none(),
        )
        .unwrap();
        assert_eq!(l.envp, v(&["PATH=/usr/bin:/bin", "LANG=fr_FR", "X=y"]));
    }

    #[test]
    fn entrypoint_override_clears_the_cmd_and_an_empty_one_clears_both() {
        let over = Overrides {
            entrypoint: Some(b"/bin/echo".to_vec()),
            ..none()
        };
        let l = launch(CONFIG.as_bytes(), vec![], vec![], &over).unwrap();
        assert_eq!(l.argv, v(&["/bin/echo"]));
        let l = launch(CONFIG.as_bytes(), v(&["a", "b"]), vec![], &over).unwrap();
        assert_eq!(l.argv, v(&["/bin/echo", "a", "b"]));
        let cleared = Overrides {
            entrypoint: Some(Vec::new()),
            ..none()
        };
        let l = launch(CONFIG.as_bytes(), v(&["/bin/ls"]), vec![], &cleared).unwrap();
        assert_eq!(l.argv, v(&["/bin/ls"]));
        assert!(launch(CONFIG.as_bytes(), vec![], vec![], &cleared).is_err());
        // Without an image config too.
        let l = launch(
            b"",
            v(&["-l"]),
            vec![],
            &Overrides {
                entrypoint: Some(b"ls".to_vec()),
                ..none()
            },
        )
        .unwrap();
        assert_eq!(l.argv, v(&["ls", "-l"]));
    }

    #[test]
    fn workdir_and_user_overrides_win() {
        let over = Overrides {
            workdir: Some(b"/tmp".to_vec()),
            user: Some("1000:1000".into()),
            ..none()
        };
        let l = launch(CONFIG.as_bytes(), vec![], vec![], &over).unwrap();
        assert_eq!(
            (l.cwd.as_slice(), l.user.as_deref()),
            (b"/tmp".as_slice(), Some("1000:1000"))
        );
        let l = launch(br#"{"cmd":["x"],"user":""}"#, vec![], vec![], &none()).unwrap();
        assert_eq!(l.user, None);
    }

    #[test]
    fn hostname_follows_path_and_home_comes_last_unless_given() {
        let mut e = v(&["PATH=/bin", "A=1"]);
        default_env(&mut e, b"box", b"/root");
        assert_eq!(e, v(&["PATH=/bin", "HOSTNAME=box", "A=1", "HOME=/root"]));
        let mut e = v(&["HOME=/x", "HOSTNAME=y"]);
        default_env(&mut e, b"box", b"/root");
        assert_eq!(e, v(&["HOME=/x", "HOSTNAME=y"]));
    }

    #[test]
    fn neither_entrypoint_nor_cmd_nor_arguments_is_an_error() {
        let err = launch(br#"{"env":["A=1"]}"#, vec![], vec![], &none()).unwrap_err();
        assert!(err.contains("neither an entrypoint nor a cmd"), "{err}");
        let l = launch(br#"{"cmd":null}"#, v(&["/bin/true"]), vec![], &none()).unwrap();
        assert_eq!(l.argv, v(&["/bin/true"]));
    }

    #[test]
    fn malformed_config_is_a_clear_error() {
        assert!(
            launch(b"{", vec![], vec![], &none())
                .unwrap_err()
                .contains("not JSON")
        );
        let err = launch(br#"{"cmd":"sh"}"#, vec![], vec![], &none()).unwrap_err();
        assert!(err.contains("cmd is not a list"), "{err}");
    }
}
