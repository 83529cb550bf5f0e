//! The command line, docker-shaped: `friscy run [OPTIONS] IMAGE [COMMAND] [ARG...]`.
//!
//! clap (derive) gives the `--x=v`, `-xv` and `-it` forms, "did you mean" suggestions,
//! short errors (exit 2) and shell completions (`friscy completions bash`). Subcommands
//! are variants of [`Command`], so new ones (`friscy serve`) are one variant and one arm.
//! Options that the kernel applies (user, working dir, limits...) become FRISCY_*
//! variables (`RunArgs::kernel_env`), so that they mean the same under a plain
//! `wasmtime run --env`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Parser)]
#[command(
    name = "friscy",
    version,
    about = "Run riscv64 Linux container images inside WebAssembly",
    propagate_version = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Run a command in a new container from a riscv64 image
    Run(Box<RunArgs>),
    /// Manage the cache of decompressed root filesystem images
    #[command(subcommand)]
    Cache(CacheCommand),
    /// Serve a `friscy-pack --web` site with the headers it needs (cross-origin isolation)
    Serve(crate::serve::ServeArgs),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions { shell: clap_complete::Shell },
}

#[derive(Subcommand)]
pub enum CacheCommand {
    /// Trim the cache, least recently used first: decompressed images to
    /// FRISCY_ROOTFS_CACHE_MAX (default 8 GiB), compiled components to
    /// FRISCY_COMPILED_CACHE_MAX (4 GiB), prebuilt indexes to 64 MiB
    Prune {
        /// Empty it
        #[arg(long)]
        all: bool,
    },
}

/// `--network`: the host's network, or none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub enum Network {
    Host,
    None,
}

#[derive(Args, Debug, Default)]
#[command(
    override_usage = "friscy run [OPTIONS] IMAGE [COMMAND] [ARG...]",
    after_help = "IMAGE: a rootfs tar (.tar/.tar.gz/.tar.zst), a `docker save` tar, an OCI layout \
                  (dir or tar), a friscy-pack bundle dir, or a registry reference.\n\
                  Limits: --memory, --disk, --pids-limit, --ulimit nofile=, --timeout (defaults \
                  and what they bound: docs/SECURITY.md).\n\
                  Exit status: the guest's (128+N for signal N); 125 friscy failed, \
                  126/127 command not executable/found; 137 also when a limit ended the run."
)]
pub struct RunArgs {
    /// Keep stdin open (without it the guest reads end of file)
    #[arg(short, long)]
    pub interactive: bool,
    /// Give the guest a terminal
    #[arg(short, long)]
    pub tty: bool,
    /// Set a variable (KEY alone copies ours, if we have it)
    #[arg(short, long = "env", value_name = "KEY[=VAL]")]
    pub env: Vec<String>,
    /// Read variables from a file (KEY=VAL lines, # comments)
    #[arg(long, value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Mount host directory HOST at GUEST (read-only with :ro)
    #[arg(short, long, value_name = "HOST:GUEST[:ro]", value_parser = volume)]
    pub volume: Vec<Volume>,
    /// Working directory inside the container
    #[arg(short, long, value_name = "DIR", value_parser = absolute)]
    pub workdir: Option<String>,
    /// User: uid[:gid] or a name from the image's /etc/passwd
    #[arg(short, long, value_name = "USER[:GROUP]")]
    pub user: Option<String>,
    /// Replace the image's entrypoint (and its cmd); "" clears it
    #[arg(long, value_name = "CMD")]
    pub entrypoint: Option<String>,
    /// The container's hostname (uname, $HOSTNAME)
    #[arg(long, value_name = "NAME")]
    pub hostname: Option<String>,
    /// Give the guest the host's network (TCP, UDP, DNS)
    #[arg(long)]
    pub net: bool,
    /// host: as --net; none: no network (the default)
    #[arg(long, value_name = "MODE")]
    pub network: Option<Network>,
    /// With --net: a guest bind to port GUEST binds HOST instead
    #[arg(short, long, value_name = "HOST:GUEST", value_parser = port_map)]
    pub publish: Vec<(u16, u16)>,
    /// Make the image's files read-only (/dev and --tmpfs stay writable)
    #[arg(long)]
    pub read_only: bool,
    /// An empty writable directory at PATH
    #[arg(long, value_name = "PATH", value_parser = absolute)]
    pub tmpfs: Vec<String>,
    /// Accepted for docker compatibility; nothing of a run is kept anyway
    #[arg(long)]
    pub rm: bool,
    /// Accepted for docker compatibility; friscy keeps no container list
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Relay the guest's network through friscy-proxy (ws://HOST:PORT[/PATH][?token=T])
    #[arg(long, value_name = "URL", value_parser = proxy_url)]
    pub proxy: Option<String>,
    /// Print every guest syscall on stderr
    #[arg(long, visible_alias = "trace")]
    pub strace: bool,
    /// Memory limit (bytes, or with k, m, g)
    #[arg(short, long, value_name = "BYTES", value_parser = bytes)]
    pub memory: Option<u64>,
    /// Size of the writable layer (written files and new inodes; bytes, or with k, m, g)
    #[arg(long, value_name = "BYTES", value_parser = bytes)]
    pub disk: Option<u64>,
    /// Most processes and threads at once
    #[arg(long, value_name = "N")]
    pub pids_limit: Option<u64>,
    /// Resource limit; only nofile=SOFT[:HARD] for now
    #[arg(long, value_name = "nofile=N[:M]", value_parser = ulimit)]
    pub ulimit: Vec<(u64, u64)>,
    /// Kill the container after this long (seconds, or 500ms, 90s, 5m, 1h)
    #[arg(long, value_name = "DURATION", value_parser = seconds)]
    pub timeout: Option<f64>,
    /// The platform to pull or unpack (OS/ARCH[/VARIANT])
    #[arg(long, value_name = "P", default_value = "linux/riscv64")]
    pub platform: String,
    /// No progress bars while pulling or unpacking an image
    #[arg(short, long)]
    pub quiet: bool,
    /// The image, as an option (then every argument is the command)
    #[arg(long, value_name = "IMAGE")]
    pub rootfs: Option<String>,
    /// The open friscy component to run (default: friscy-fused-open.wasm beside friscy)
    #[arg(long, value_name = "FILE")]
    pub component: Option<PathBuf>,
    /// The image (with --rootfs, the command's first word)
    #[arg(value_name = "IMAGE", required_unless_present = "rootfs", hide = true)]
    pub image: Option<String>,
    /// Everything after IMAGE: the command and its arguments, dashes included, as docker
    /// takes them. Split off before clap parses (`parse`).
    #[arg(skip)]
    pub command: Vec<String>,
}

/// Parse our arguments (argv[0] included). For `run`, everything after the first
/// positional argument (IMAGE) is the guest's command and never an option of ours: it is
/// split off first, so that `friscy run IMAGE ls -u` passes `-u` to ls while a typo before
/// IMAGE is still clap's error.
pub fn parse(argv: Vec<String>) -> Result<Cli, clap::Error> {
    let (head, tail) = split_command(argv);
    let mut cmd = <Cli as clap::CommandFactory>::command();
    if head.iter().any(|a| a == "--version") {
        // Hashing the components takes a moment: only when asked.
        cmd = cmd.long_version(&*Box::leak(long_version().into_boxed_str()));
    }
    let matches = cmd.try_get_matches_from(head)?;
    let mut cli = <Cli as clap::FromArgMatches>::from_arg_matches(&matches)?;
    if let Command::Run(run) = &mut cli.command {
        run.command = tail;
    }
    Ok(cli)
}

/// `friscy --version`: the engine linked in and the components `friscy run` loads from
/// beside the executable, each by size and content hash.
fn long_version() -> String {
    let mut s = format!(
        "{}\nwasmtime {} (linked in)\n",
        env!("CARGO_PKG_VERSION"),
        friscy_pack::version::WASMTIME
    );
    let Ok(exe) = std::env::current_exe() else {
        return s.trim_end().into();
    };
    s.push_str(&format!("components beside {}:\n", exe.display()));
    for (name, role) in [
        ("friscy-fused-open.wasm", "the default"),
        ("friscy-open.wasm", "without the fused one"),
        ("friscy-dir-open.wasm", "directory images"),
        ("friscy-relay-open.wasm", "--proxy"),
    ] {
        let what = match std::fs::read(exe.with_file_name(name)) {
            Ok(bytes) => friscy_pack::version::describe(&bytes),
            Err(_) => "missing".into(),
        };
        s.push_str(&format!("  {name:<23} {what}  ({role})\n"));
    }
    s.trim_end().into()
}

/// (argv up to and including IMAGE, the rest). Options that take a value are learnt from
/// the clap definition, so `-e X`, `-eX`, `-ite X`, `--env X` and `--env=X` are skipped
/// whole; `--` ends our options (the next argument is IMAGE).
fn split_command(argv: Vec<String>) -> (Vec<String>, Vec<String>) {
    if argv.get(1).map(String::as_str) != Some("run") {
        return (argv, Vec::new());
    }
    let cmd = <Cli as clap::CommandFactory>::command();
    let run = cmd.find_subcommand("run").expect("run is a subcommand");
    let valued: Vec<&clap::Arg> = run
        .get_arguments()
        .filter(|a| !a.is_positional() && a.get_action().takes_values())
        .collect();
    let long_takes = |name: &str| {
        valued.iter().any(|a| {
            a.get_long() == Some(name) || a.get_all_aliases().is_some_and(|v| v.contains(&name))
        })
    };
    let short_takes = |c: char| valued.iter().any(|a| a.get_short() == Some(c));
    let mut i = 2;
    while i < argv.len() {
        let a = argv[i].as_str();
        if a == "--" {
            i += 1;
            break;
        } else if let Some(long) = a.strip_prefix("--") {
            if !long.contains('=') && long_takes(long) {
                i += 1;
            }
        } else if let Some(shorts) = a.strip_prefix('-').filter(|s| !s.is_empty()) {
            // A cluster: the first flag that takes a value takes the rest of the cluster,
            // or the next argument when nothing of the cluster is left.
            for (at, c) in shorts.char_indices() {
                if short_takes(c) {
                    if at + c.len_utf8() == shorts.len() {
                        i += 1;
                    }
                    break;
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    // `i` is IMAGE's index (or past the end).
    let cut = (i + 1).min(argv.len());
    let mut head = argv;
    let tail = head.split_off(cut);
    (head, tail)
}

/// `-v HOST:GUEST[:ro|:rw]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Volume {
    pub host: PathBuf,
    pub guest: String,
    pub read_only: bool,
}

fn volume(spec: &str) -> Result<Volume, String> {
    let (rest, read_only) = match spec.strip_suffix(":ro") {
        Some(s) => (s, true),
        None => (spec.strip_suffix(":rw").unwrap_or(spec), false),
    };
    let Some((host, guest)) = rest.rsplit_once(':') else {
        return Err("expected HOST:GUEST[:ro]".into());
    };
    if host.is_empty() || !guest.starts_with('/') || guest.trim_matches('/').is_empty() {
        return Err("the host path must be given and the guest path absolute, not /".into());
    }
    Ok(Volume {
        host: PathBuf::from(host),
        guest: guest.to_string(),
        read_only,
    })
}

fn absolute(path: &str) -> Result<String, String> {
    if path.starts_with('/') {
        Ok(path.to_string())
    } else {
        Err("must be an absolute path".into())
    }
}

fn port_map(spec: &str) -> Result<(u16, u16), String> {
    spec.split_once(':')
        .and_then(|(h, g)| Some((h.parse().ok()?, g.parse().ok()?)))
        .ok_or_else(|| "expected HOST:GUEST ports".into())
}

fn proxy_url(url: &str) -> Result<String, String> {
    crate::relay_transport::check_url(url)?;
    Ok(url.to_string())
}

/// Docker's byte sizes ("256m", "1g", "1GiB"): the kernel's parser, so that the option
/// and its FRISCY_* variable (`wasmtime run --env`) take the same forms.
fn bytes(s: &str) -> Result<u64, String> {
    friscy_kernel::limits::parse_size(s)
        .ok_or_else(|| format!("'{s}' is not a size (bytes, or with k, m, g or t)"))
}

fn ulimit(s: &str) -> Result<(u64, u64), String> {
    let Some(values) = s.strip_prefix("nofile=") else {
        return Err("only nofile=SOFT[:HARD] is supported".into());
    };
    let num = |v: &str| {
        v.parse::<u64>()
            .map_err(|_| format!("'{v}' is not a number"))
    };
    match values.split_once(':') {
        Some((soft, hard)) => {
            let (soft, hard) = (num(soft)?, num(hard)?);
            if soft > hard {
                return Err("the soft limit is above the hard one".into());
            }
            Ok((soft, hard))
        }
        None => num(values).map(|n| (n, n)),
    }
}

/// A duration ("90", "500ms", "90s", "5m", "1h"): the kernel's parser, as for sizes.
fn seconds(s: &str) -> Result<f64, String> {
    friscy_kernel::limits::parse_duration(s)
        .map(|ns| ns as f64 / 1e9)
        .ok_or_else(|| format!("'{s}' is not a duration (seconds, or with ms, s, m or h)"))
}

impl RunArgs {
    /// IMAGE and the command: `--rootfs IMAGE` takes every argument as the command,
    /// otherwise the first argument is the image. A leading `--` in the command is
    /// dropped (`friscy run IMAGE -- ls`, `--rootfs IMAGE -- ls`).
    pub fn image_and_command(&self) -> (String, Vec<String>) {
        let mut args: Vec<String> = self.image.iter().chain(&self.command).cloned().collect();
        let image = match &self.rootfs {
            Some(i) => i.clone(),
            None => args.remove(0),
        };
        if args.first().is_some_and(|a| a == "--") {
            args.remove(0);
        }
        (image, args)
    }

    /// `--net` or `--network host`.
    pub fn host_network(&self) -> bool {
        self.net || self.network == Some(Network::Host)
    }

    /// Checks clap cannot express.
    pub fn validate(&self) -> Result<(), String> {
        if self.net && self.network == Some(Network::None) {
            return Err("--net and --network none contradict each other".into());
        }
        if !self.publish.is_empty() && !self.host_network() {
            return Err("--publish needs --net (or --network host)".into());
        }
        if self.host_network() && self.proxy.is_some() {
            return Err(
                "--net and --proxy conflict: the guest's network is either the host's or the proxy's"
                    .into(),
            );
        }
        if self.tmpfs.iter().any(|t| t.contains(',')) {
            return Err("--tmpfs: paths with ',' are not supported".into());
        }
        Ok(())
    }

    /// The guest's variables from -e and --env-file, in order (docker reads the files
    /// first). `KEY` alone takes our value, and is left out when we have none.
    pub fn guest_env(&self) -> Result<Vec<(String, String)>, String> {
        let mut lines = Vec::new();
        for file in &self.env_file {
            let text = std::fs::read_to_string(file)
                .map_err(|e| format!("--env-file {}: {e}", file.display()))?;
            lines.extend(
                text.lines()
                    .map(str::trim_start)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(String::from),
            );
        }
        lines.extend(self.env.iter().cloned());
        let mut env = Vec::new();
        for kv in lines {
            match kv.split_once('=') {
                Some(("", _)) => return Err(format!("--env {kv}: no variable name")),
                Some((k, v)) => env.push((k.to_string(), v.to_string())),
                None => {
                    if let Ok(v) = std::env::var(&kv) {
                        env.push((kv, v));
                    }
                }
            }
        }
        Ok(env)
    }

    /// The FRISCY_* variables the kernel reads for these options.
    pub fn kernel_env(&self) -> Vec<(&'static str, String)> {
        let mut env = Vec::new();
        if self.strace {
            env.push(("FRISCY_TRACE", "1".to_string()));
        }
        if !self.publish.is_empty() {
            let ports: Vec<String> = self
                .publish
                .iter()
                .map(|(h, g)| format!("{h}:{g}"))
                .collect();
            env.push(("FRISCY_PORTS", ports.join(",")));
        }
        if let Some(u) = &self.user {
            env.push(("FRISCY_USER", u.clone()));
        }
        if let Some(w) = &self.workdir {
            env.push(("FRISCY_WORKDIR", w.clone()));
        }
        if let Some(e) = &self.entrypoint {
            env.push(("FRISCY_ENTRYPOINT", e.clone()));
        }
        if let Some(h) = &self.hostname {
            env.push(("FRISCY_HOSTNAME", h.clone()));
        }
        if self.read_only {
            env.push(("FRISCY_READ_ONLY", "1".to_string()));
        }
        if !self.tmpfs.is_empty() {
            env.push(("FRISCY_TMPFS", self.tmpfs.join(",")));
        }
        if let Some(m) = self.memory {
            env.push(("FRISCY_MEMORY", m.to_string()));
        }
        if let Some(d) = self.disk {
            env.push(("FRISCY_DISK", d.to_string()));
        }
        if let Some(n) = self.pids_limit {
            env.push(("FRISCY_PIDS_LIMIT", n.to_string()));
        }
        if let Some(&(soft, hard)) = self.ulimit.last() {
            let v = if soft == hard {
                soft.to_string()
            } else {
                format!("{soft}:{hard}")
            };
            env.push(("FRISCY_NOFILE", v));
        }
        if let Some(t) = self.timeout {
            env.push(("FRISCY_TIMEOUT", t.to_string()));
        }
        env
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn run(args: &[&str]) -> Result<RunArgs, clap::Error> {
        let full = ["friscy", "run"].iter().chain(args).map(|s| s.to_string());
        match parse(full.collect())?.command {
            Command::Run(r) => Ok(*r),
            _ => panic!("not run"),
        }
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn image_then_command_with_options_before() {
        let r = run(&[
            "-it",
            "-eA=1",
            "--env=B=2",
            "-w/tmp",
            "alpine.tar",
            "ls",
            "-l",
            "/",
        ])
        .unwrap();
        assert!(r.interactive && r.tty);
        assert_eq!(r.env, ["A=1", "B=2"]);
        assert_eq!(r.workdir.as_deref(), Some("/tmp"));
        let (image, cmd) = r.image_and_command();
        assert_eq!(
            (image.as_str(), cmd),
            (
                "alpine.tar",
                vec!["ls".to_string(), "-l".into(), "/".into()]
            )
        );
        // Options after the image belong to the command, as with docker.
        let (_, cmd) = run(&["img", "-e", "X"]).unwrap().image_and_command();
        assert_eq!(cmd, ["-e", "X"]);
        let r = run(&["--entrypoint", "id", "-ite", "A=1", "-eB", "img", "-u"]).unwrap();
        assert_eq!(r.env, ["A=1", "B"]);
        assert_eq!(
            r.image_and_command(),
            ("img".to_string(), vec!["-u".to_string()])
        );
        let r = run(&["--", "img", "--rm"]).unwrap();
        assert!(!r.rm);
        assert_eq!(r.image_and_command().1, ["--rm"]);
    }

    #[test]
    fn rootfs_is_an_alias_and_a_leading_double_dash_goes() {
        let r = run(&["--rootfs=a.tar", "-e", "G=hi", "--", "/bin/environ"]).unwrap();
        assert_eq!(
            r.image_and_command(),
            ("a.tar".to_string(), vec!["/bin/environ".to_string()])
        );
        let r = run(&["a.tar", "--", "ls"]).unwrap();
        assert_eq!(r.image_and_command().1, ["ls"]);
        let r = run(&["--rootfs", "bundle/"]).unwrap();
        assert!(r.image_and_command().1.is_empty());
        let r = run(&["--rootfs", "a.tar", "ls", "-l", "-u"]).unwrap();
        assert_eq!(r.image_and_command().1, ["ls", "-l", "-u"]);
    }

    #[test]
    fn a_flag_missing_its_value_does_not_swallow_the_separator() {
        assert!(run(&["-e", "--", "ls"]).is_err());
        assert!(run(&[]).is_err());
    }

    #[test]
    fn typos_get_suggestions() {
        let e = run(&["--entrypiont", "x", "img"]).unwrap_err().to_string();
        assert!(e.contains("--entrypoint"), "{e}");
        assert!(e.lines().count() < 10, "{e}");
    }

    #[test]
    fn values_are_checked() {
        assert_eq!(run(&["-m", "512m", "i"]).unwrap().memory, Some(512 << 20));
        assert_eq!(run(&["--memory=2g", "i"]).unwrap().memory, Some(2 << 30));
        assert!(run(&["-m", "lots", "i"]).is_err());
        assert_eq!(
            run(&["--ulimit", "nofile=100:200", "i"]).unwrap().ulimit,
            [(100, 200)]
        );
        assert!(run(&["--ulimit", "nproc=1", "i"]).is_err());
        assert!(run(&["-p", "8080", "i"]).is_err());
        assert!(run(&["-v", "data:rel", "i"]).is_err());
        assert!(run(&["-w", "rel", "i"]).is_err());
        assert!(run(&["--network", "bridge", "i"]).is_err());
        assert!(run(&["-p", "1:2", "i"]).unwrap().validate().is_err());
        assert!(
            run(&["--network", "host", "-p", "1:2", "i"])
                .unwrap()
                .validate()
                .is_ok()
        );
        let v = run(&["-v", "/h:/g:ro", "i"]).unwrap().volume;
        assert_eq!(
            v[0],
            Volume {
                host: "/h".into(),
                guest: "/g".into(),
                read_only: true
            }
        );
    }

    #[test]
    fn options_become_kernel_variables() {
        let r = run(&[
            "-u",
            "nobody",
            "-w",
            "/srv",
            "--entrypoint",
            "",
            "--hostname",
            "box",
            "--read-only",
            "--tmpfs",
            "/run",
            "--pids-limit",
            "10",
            "--timeout",
            "1.5",
            "--ulimit",
            "nofile=64",
            "--disk",
            "2g",
            "-m",
            "256m",
            "i",
        ])
        .unwrap();
        let env = r.kernel_env();
        let get = |k: &str| env.iter().find(|(n, _)| *n == k).map(|(_, v)| v.as_str());
        assert_eq!(get("FRISCY_USER"), Some("nobody"));
        assert_eq!(get("FRISCY_WORKDIR"), Some("/srv"));
        assert_eq!(get("FRISCY_ENTRYPOINT"), Some(""));
        assert_eq!(get("FRISCY_HOSTNAME"), Some("box"));
        assert_eq!(get("FRISCY_READ_ONLY"), Some("1"));
        assert_eq!(get("FRISCY_TMPFS"), Some("/run"));
        assert_eq!(get("FRISCY_PIDS_LIMIT"), Some("10"));
        assert_eq!(get("FRISCY_TIMEOUT"), Some("1.5"));
        assert_eq!(get("FRISCY_NOFILE"), Some("64"));
        assert_eq!(get("FRISCY_DISK"), Some("2147483648"));
        assert_eq!(get("FRISCY_MEMORY"), Some("268435456"));
        // The kernel reads back what we write (one parser for both: its limits.rs).
        let mut limits = friscy_kernel::limits::Limits::default();
        for (k, v) in &env {
            limits.set(k, v).unwrap();
        }
        assert_eq!(
            (limits.memory, limits.disk, limits.pids),
            (256 << 20, 2 << 30, 10)
        );
        assert_eq!(limits.timeout_ns, Some(1_500_000_000));
    }

    #[test]
    fn sizes_and_durations_take_docker_and_kernel_forms() {
        for (t, secs) in [("90", 90.0), ("500ms", 0.5), ("90s", 90.0), ("5m", 300.0)] {
            let r = run(&["--timeout", t, "i"]).unwrap();
            assert_eq!(r.timeout, Some(secs), "{t}");
        }
        for m in ["1GiB", "1g", "1024m", "1073741824"] {
            assert_eq!(run(&["-m", m, "i"]).unwrap().memory, Some(1 << 30), "{m}");
        }
        for bad in ["--timeout=0", "--timeout=5x", "-m=lots", "--disk=-1"] {
            assert!(run(&[bad, "i"]).is_err(), "{bad}");
        }
    }

    #[test]
    fn cache_prune() {
        let c = parse(vec![
            "friscy".into(),
            "cache".into(),
            "prune".into(),
            "--all".into(),
        ]);
        assert!(matches!(
            c.unwrap().command,
            Command::Cache(CacheCommand::Prune { all: true })
        ));
        assert!(parse(vec!["friscy".into(), "cache".into(), "purge".into()]).is_err());
    }

    #[test]
    fn env_files_come_first_and_bare_names_copy_ours() {
        let dir = std::env::temp_dir().join(format!("friscy-cli-{}", std::process::id()));
        std::fs::write(&dir, "# comment\nA=from file\n\nB=b\n").unwrap();
        let r = run(&[
            "--env-file",
            dir.to_str().unwrap(),
            "-e",
            "A=cli",
            "-e",
            "PATH",
            "-e",
            "FRISCY_SURELY_UNSET",
            "i",
        ])
        .unwrap();
        let env = r.guest_env().unwrap();
        std::fs::remove_file(&dir).ok();
        assert_eq!(
            env[..3],
            [
                ("A".to_string(), "from file".to_string()),
                ("B".into(), "b".into()),
                ("A".into(), "cli".into()),
            ]
        );
        assert_eq!(env[3].0, "PATH");
        assert_eq!(env.len(), 4, "an unset name is left out");
    }
}
