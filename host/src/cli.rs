//! Command-line parsing for `friscy run`.

use std::path::PathBuf;

pub const USAGE: &str = "\
usage: friscy run --rootfs IMAGE [options] [--] COMMAND [ARGS...]

Runs a riscv64 Linux program from a root filesystem image inside the friscy component.

options:
  --rootfs IMAGE       root filesystem: a tar archive, plain, gzip or zstd (a
                       compressed one is decompressed once into ~/.cache/friscy)
  -e, --env KEY[=VAL]  set a guest environment variable (KEY alone copies ours)
  --component FILE     the open friscy component (default: friscy-open.wasm beside
                       this executable, or $FRISCY_COMPONENT)
  --trace, --strace    print every guest syscall on stderr (as FRISCY_TRACE=1)
  --proxy URL          reach the network through friscy-proxy, as a browser guest
                       does: ws://HOST:PORT, with ?token=TOKEN if the proxy wants one
  -h, --help           this text
  -V, --version        friscy's version

The exit status is the guest's: its exit code, or 128+N when signal N killed it.
125 means friscy itself failed; 126/127 that the command could not be executed/found.
";

pub struct RunArgs {
    pub rootfs: PathBuf,
    pub component: Option<PathBuf>,
    pub env: Vec<(String, String)>,
    pub trace: bool,
    pub proxy: Option<String>,
    pub command: Vec<String>,
}

pub enum Command {
    Run(RunArgs),
    Help,
    Version,
}

pub fn parse(mut args: impl Iterator<Item = String>) -> Result<Command, String> {
    match args.next().as_deref() {
        Some("run") => {}
        Some("-h" | "--help" | "help") | None => return Ok(Command::Help),
        Some("-V" | "--version") => return Ok(Command::Version),
        Some(other) => return Err(format!("unknown command '{other}'")),
    }
    let mut rootfs = None;
    let mut component = None;
    let mut env = Vec::new();
    let mut trace = false;
    let mut proxy = None;
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
            "--trace" | "--strace" => trace = true,
            "--proxy" => {
                let url = value("--proxy")?;
                crate::relay_transport::check_url(&url).map_err(|e| format!("--proxy {e}"))?;
                proxy = Some(url);
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
    if command.is_empty() {
        return Err("no command given".into());
    }
    Ok(Command::Run(RunArgs {
        rootfs,
        component,
        env,
        trace,
        proxy,
        command,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_args(args: &[&str]) -> Result<Command, String> {
        parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn proxy_takes_a_ws_url() {
        let args = [
            "run",
            "--rootfs",
            "r.tar",
            "--proxy",
            "ws://127.0.0.1:8765/?token=t",
            "sh",
        ];
        let Ok(Command::Run(run)) = parse_args(&args) else {
            panic!("not parsed")
        };
        assert_eq!(run.proxy.as_deref(), Some("ws://127.0.0.1:8765/?token=t"));
        assert_eq!(run.command, ["sh"]);
        let err = parse_args(&["run", "--rootfs", "r.tar", "--proxy", "https://x", "sh"]);
        assert!(err.err().unwrap().starts_with("--proxy"));
        assert!(
            parse_args(&["run", "--proxy"])
                .err()
                .unwrap()
                .contains("needs a value")
        );
    }
}
