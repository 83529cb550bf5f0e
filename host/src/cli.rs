//! Command-line parsing for `friscy run`.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: friscy run --rootfs IMAGE [options] [--] COMMAND [ARGS...]
       friscy cache prune [--all]

Runs a riscv64 Linux program from a root filesystem image inside the friscy component.

options:
  --rootfs IMAGE       root filesystem: a tar archive, plain, gzip or zstd (a
                       compressed one is decompressed once into ~/.cache/friscy),
                       or a friscy-pack bundle directory (its rootfs.tar, and its
                       manifest.json's entrypoint, cmd, env and working dir)
  -e, --env KEY[=VAL]  set a guest environment variable (KEY alone copies ours)
  -v, --volume HOST:GUEST[:ro]
                       mount host directory HOST at absolute guest path GUEST
                       (read-only with :ro); paths cannot leave it
  --net                give the guest the host's network: outbound TCP and UDP,
                       listeners on host ports, names resolved by the host
  -p, --publish HOST:GUEST
                       with --net: a guest bind to port GUEST binds HOST instead
  --proxy ws://HOST:PORT[/PATH][?token=TOKEN]
                       relay the guest's network through friscy-proxy over one
                       WebSocket, as in a browser (uses friscy-relay-open.wasm
                       beside this executable); not with --net
  --component FILE     the open friscy component (default: friscy-open.wasm beside
                       this executable, or $FRISCY_COMPONENT; with --proxy,
                       friscy-relay-open.wasm beside it)
  --trace, --strace    print every guest syscall on stderr (as FRISCY_TRACE=1)
  -h, --help           this text
  -V, --version        friscy's version

Limits (as environment variables, e.g. -e FRISCY_MEMORY=256m): FRISCY_MEMORY,
FRISCY_PIDS_LIMIT, FRISCY_NOFILE, FRISCY_DISK, FRISCY_TIMEOUT (docs/SECURITY.md).
`friscy cache prune` trims the decompressed-image cache to FRISCY_ROOTFS_CACHE_MAX
(default 8 GiB; least recently used first); --all empties it.

The exit status is the guest's: its exit code, or 128+N when signal N killed it.
125 means friscy itself failed; 126/127 that the command could not be executed/found.
";

pub struct RunArgs {
    pub rootfs: PathBuf,
    pub component: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    /// Host directory, absolute guest path, read-only.
    pub volumes: Vec<(PathBuf, String, bool)>,
    pub trace: bool,
    pub net: bool,
    /// `--proxy`: the friscy-proxy WebSocket URL.
    pub proxy: Option<String>,
    /// Port map (host, guest).
    pub publish: Vec<(u16, u16)>,
    pub command: Vec<String>,
}

pub enum Command {
    Run(RunArgs),
    /// `friscy cache prune [--all]`: trim the rootfs cache to its size, or empty it.
    CachePrune {
        all: bool,
    },
    Help,
    Version,
}

pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    match args.next().as_deref() {
        Some("run") => {}
        Some("cache") => {
            let rest: Vec<String> = args.collect();
            return match rest.iter().map(String::as_str).collect::<Vec<_>>()[..] {
                ["prune"] => Ok(Command::CachePrune { all: false }),
                ["prune", "--all"] => Ok(Command::CachePrune { all: true }),
                _ => Err("usage: friscy cache prune [--all]".into()),
            };
        }
        Some("-h" | "--help" | "help") | None => return Ok(Command::Help),
        Some("-V" | "--version") => return Ok(Command::Version),
        Some(other) => return Err(format!("unknown command '{other}'")),
    }
    let mut rootfs = None;
    let mut component = None;
    let mut env = Vec::new();
    let mut trace = false;
    let mut volumes = Vec::new();
    let mut net = false;
    let mut proxy = None;
    let mut publish = Vec::new();
    let mut command = Vec::new();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--rootfs" => rootfs = Some(PathBuf::from(value("--rootfs")?)),
            "--component" => component = Some(PathBuf::from(value("--component")?)),
            "-e" | "--env" => {
                let kv = value("--env")?;
                env.push(match kv.split_once('=') {
                    Some((k, v)) => (k.to_string(), v.to_string()),
                    None => {
                        let v = std::env::var(&kv).unwrap_or_default();
                        (kv, v)
                    }
                });
            }
            "-v" | "--volume" => {
                let spec = value("--volume")?;
                let (spec, ro) = match spec.strip_suffix(":ro") {
                    Some(s) => (s.to_string(), true),
                    None => (spec.strip_suffix(":rw").unwrap_or(&spec).to_string(), false),
                };
                let Some((host, guest)) = spec.rsplit_once(':') else {
                    return Err(format!("--volume {spec}: expected HOST:GUEST[:ro]"));
                };
                if !guest.starts_with('/') || guest.trim_matches('/').is_empty() {
                    return Err(format!(
                        "--volume {spec}: the guest path must be absolute, not /"
                    ));
                }
                volumes.push((PathBuf::from(host), guest.to_string(), ro));
            }
            "--trace" | "--strace" => trace = true,
            "--net" => net = true,
            "--proxy" => {
                let url = value("--proxy")?;
                crate::relay_transport::check_url(&url).map_err(|e| format!("--proxy {e}"))?;
                proxy = Some(url);
            }
            "-p" | "--publish" => {
                let spec = value("--publish")?;
                let parsed = spec
                    .split_once(':')
                    .and_then(|(h, g)| Some((h.parse::<u16>().ok()?, g.parse::<u16>().ok()?)));
                match parsed {
                    Some(p) => publish.push(p),
                    None => return Err(format!("--publish {spec}: expected HOST:GUEST ports")),
                }
            }
            "-h" | "--help" => return Ok(Command::Help),
            "--" => {
                command.extend(args);
                break;
            }
            s if s.starts_with('-') && command.is_empty() => {
                return Err(format!("unknown option '{s}'"));
            }
            _ => {
                command.push(arg);
                command.extend(args);
                break;
            }
        }
    }
    let rootfs = rootfs.ok_or("--rootfs IMAGE is required")?;
    // A bundle's manifest may name the command (its entrypoint and cmd).
    if command.is_empty() && !rootfs.is_dir() {
        return Err("no command given".into());
    }
    if !publish.is_empty() && !net {
        return Err("--publish needs --net".into());
    }
    if net && proxy.is_some() {
        return Err(
            "--net and --proxy conflict: the guest's network is either the host's or the proxy's"
                .into(),
        );
    }
    Ok(Command::Run(RunArgs {
        rootfs,
        component,
        env,
        volumes,
        trace,
        net,
        proxy,
        publish,
        command,
    }))
}
