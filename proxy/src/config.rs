//! The command line of `friscy-proxy` (clap), and the `Config` it becomes.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::policy::{Policy, Ports, Rule};

/// Relays the TCP connections, TCP listeners, UDP datagrams and name lookups of friscy
/// guests running in browsers, over one WebSocket per guest (docs/PROXY-PROTOCOL.md).
/// Nothing is reachable unless allowed.
#[derive(Parser, Debug)]
#[command(
    name = "friscy-proxy",
    version,
    args_conflicts_with_subcommands = true,
    disable_help_subcommand = true
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Where to accept WebSockets
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8765")]
    listen: SocketAddr,
    /// A destination guests may reach (repeatable; see --help)
    ///
    /// HOST: a name, *.domain (names under it), an IP, a CIDR (10.0.0.0/8, [fd00::]/8),
    /// or `*` for any public address. PORT: N, LO-HI or `*`. Private and loopback
    /// addresses need an IP/CIDR rule or an exact name rule (--allow 127.0.0.1:8080).
    #[arg(long, value_name = "HOST:PORT", value_parser = Rule::parse)]
    allow: Vec<Rule>,
    /// Ports guests may listen on or bind on this host: N, LO-HI or * (port 0 always)
    #[arg(long, value_name = "PORTS", value_parser = Ports::parse)]
    allow_listen: Vec<Ports>,
    /// The address guests' listeners bind
    #[arg(long, value_name = "IP", default_value = "127.0.0.1")]
    listen_host: IpAddr,
    /// Require this token (?token=TOKEN or `Authorization: Bearer`)
    #[arg(
        long,
        value_name = "TOKEN",
        env = "FRISCY_PROXY_TOKEN",
        hide_env_values = true
    )]
    token: Option<String>,
    /// Accept browsers only from this Origin (default: any; use a token then)
    #[arg(long, value_name = "ORIGIN")]
    origin: Vec<String>,
    /// WebSocket clients at once (a client takes a slot only once authenticated)
    #[arg(long, value_name = "N", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    max_clients: u64,
    /// Clients at once from one address
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u64).range(1..))]
    max_per_ip: u64,
    /// Seconds a connection may take to authenticate
    ///
    /// Unfinished handshakes are also bounded per address: the oldest gives way to a new one.
    #[arg(long, value_name = "S", default_value_t = 5.0)]
    handshake_timeout: f64,
    /// Connections, listeners and UDP sockets per client
    #[arg(long, value_name = "N", default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..))]
    max_streams: u64,
    /// Bytes buffered per stream and direction
    #[arg(long, value_name = "BYTES", default_value_t = 256 * 1024, value_parser = clap::value_parser!(u32).range(1024..))]
    window: u32,
    /// Seconds before a connect fails with ETIMEDOUT
    #[arg(long, value_name = "S", default_value_t = 10.0)]
    connect_timeout: f64,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions { shell: clap_complete::Shell },
}

#[derive(Debug)]
pub struct Config {
    pub listen: SocketAddr,
    pub policy: Policy,
    pub listen_ports: Vec<Ports>,
    pub listen_host: IpAddr,
    pub token: Option<String>,
    pub origins: Vec<String>,
    pub max_clients: usize,
    pub max_per_ip: usize,
    pub handshake_timeout: Duration,
    pub max_streams: usize,
    pub window: u32,
    pub connect_timeout: Duration,
}

impl Cli {
    pub fn config(self) -> Config {
        Config {
            listen: self.listen,
            policy: Policy { rules: self.allow },
            listen_ports: self.allow_listen,
            listen_host: self.listen_host,
            token: self.token.filter(|t| !t.is_empty()),
            origins: self.origin,
            max_clients: self.max_clients as usize,
            max_per_ip: self.max_per_ip as usize,
            handshake_timeout: Duration::from_secs_f64(self.handshake_timeout.clamp(0.1, 300.0)),
            max_streams: self.max_streams as usize,
            window: self.window,
            connect_timeout: Duration::from_secs_f64(self.connect_timeout.clamp(0.001, 3600.0)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn run(args: &[&str]) -> Result<Config, String> {
        let full = std::iter::once("friscy-proxy").chain(args.iter().copied());
        Cli::try_parse_from(full)
            .map(Cli::config)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn defaults_are_closed_and_local() {
        // A token in our own environment would be the default (clap reads the variable).
        if std::env::var_os("FRISCY_PROXY_TOKEN").is_some() {
            return;
        }
        let c = run(&[]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8765".parse().unwrap());
        assert!(c.policy.rules.is_empty() && c.listen_ports.is_empty() && c.token.is_none());
        assert_eq!((c.max_clients, c.max_streams, c.window), (16, 64, 262144));
        assert_eq!(c.max_per_ip, 4);
        assert_eq!(c.handshake_timeout, Duration::from_secs(5));
    }

    #[test]
    fn bad_arguments_are_explained() {
        assert!(run(&["--allow"]).unwrap_err().contains("value is required"));
        assert!(run(&["--allow", "nope"]).unwrap_err().contains("HOST:PORT"));
        assert!(run(&["--listen", "x"]).unwrap_err().contains("--listen"));
        assert!(run(&["--max-streams", "0"]).is_err());
        assert!(run(&["--max-per-ip", "0"]).is_err());
        assert!(run(&["--window", "10"]).is_err());
        let e = run(&["--alow", "x:1"]).unwrap_err();
        assert!(e.contains("--allow"), "a suggestion: {e}");
        let c = run(&["--token=s3cret", "--allow", "*.example.org:443"]).unwrap();
        assert_eq!(c.token.as_deref(), Some("s3cret"));
        assert_eq!(c.policy.rules.len(), 1);
    }
}
