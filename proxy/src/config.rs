//! Command-line parsing for `friscy-proxy`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use crate::policy::{Policy, Ports, Rule};

pub const USAGE: &str = "\
usage: friscy-proxy [options]

Relays the TCP connections, TCP listeners, UDP datagrams and name lookups of friscy
guests running in browsers, carried over one WebSocket per guest
(docs/PROXY-PROTOCOL.md). Nothing is reachable unless allowed.

options:
  --listen ADDR          where to accept WebSockets (default 127.0.0.1:8765)
  --allow HOST:PORT      a destination guests may reach; repeatable. HOST: a name,
                         *.domain (names under it), an IP, a CIDR (10.0.0.0/8,
                         [fd00::]/8) or * (any public address); PORT: N, LO-HI or *.
                         Private and loopback addresses need an IP/CIDR rule or an
                         exact name rule (--allow 127.0.0.1:8080, --allow localhost:8080)
  --allow-listen PORTS   ports guests may listen on (TCP) or bind (UDP) on this
                         host: N, LO-HI or *; repeatable (default: none, but
                         port 0, an ephemeral port, is always allowed)
  --listen-host IP       the address guests' listeners bind (default 127.0.0.1)
  --token TOKEN          require this token (also $FRISCY_PROXY_TOKEN); clients send
                         ?token=TOKEN in the URL or an `Authorization: Bearer` header
  --origin ORIGIN        accept browsers only from this Origin; repeatable (default:
                         any origin; with a token that is safe, without one any web
                         page the user opens may use the proxy)
  --max-clients N        WebSocket clients at once (default 16); a client takes a
                         slot only after its token and Origin are checked
  --max-per-ip N         clients at once from one address (default 4)
  --handshake-timeout S  seconds a connection may take to authenticate (default 5);
                         unfinished handshakes are also bounded per address (the
                         oldest gives way to a new one)
  --max-streams N        connections, listeners and UDP sockets per client (default 64)
  --window BYTES         bytes buffered per stream and direction (default 262144)
  --connect-timeout S    seconds before a connect fails with ETIMEDOUT (default 10)
  -h, --help             this text
  -V, --version          the version
";

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

pub enum Command {
    Run(Box<Config>),
    Help,
    Version,
}

pub fn parse(
    mut args: impl Iterator<Item = String>,
    env_token: Option<String>,
) -> Result<Command, String> {
    let mut c = Config {
        listen: SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 8765),
        policy: Policy::default(),
        listen_ports: Vec::new(),
        listen_host: IpAddr::V4(Ipv4Addr::LOCALHOST),
        token: env_token.filter(|t| !t.is_empty()),
        origins: Vec::new(),
        max_clients: 16,
        max_per_ip: 4,
        handshake_timeout: Duration::from_secs(5),
        max_streams: 64,
        window: 256 * 1024,
        connect_timeout: Duration::from_secs(10),
    };
    while let Some(arg) = args.next() {
        let mut value = || args.next().ok_or_else(|| format!("{arg} needs a value"));
        fn num<T: std::str::FromStr>(name: &str, v: String) -> Result<T, String> {
            v.parse()
                .map_err(|_| format!("{name}: '{v}' is not a valid number"))
        }
        match arg.as_str() {
            "--listen" => {
                let v = value()?;
                c.listen = v
                    .parse()
                    .map_err(|_| format!("--listen: '{v}' is not IP:PORT"))?;
            }
            "--allow" => c
                .policy
                .rules
                .push(Rule::parse(&value()?).map_err(|e| format!("--allow {e}"))?),
            "--allow-listen" => c
                .listen_ports
                .push(Ports::parse(&value()?).map_err(|e| format!("--allow-listen: {e}"))?),
            "--listen-host" => {
                let v = value()?;
                c.listen_host = v
                    .parse()
                    .map_err(|_| format!("--listen-host: '{v}' is not an IP address"))?;
            }
            "--token" => c.token = Some(value()?).filter(|t| !t.is_empty()),
            "--origin" => c.origins.push(value()?),
            "--max-clients" => c.max_clients = num("--max-clients", value()?)?,
            "--max-streams" => c.max_streams = num("--max-streams", value()?)?,
            "--max-per-ip" => c.max_per_ip = num("--max-per-ip", value()?)?,
            "--handshake-timeout" => {
                c.handshake_timeout = Duration::from_secs_f64(
                    num::<f64>("--handshake-timeout", value()?)?.clamp(0.1, 300.0),
                );
            }
            "--window" => c.window = num("--window", value()?)?,
            "--connect-timeout" => {
                c.connect_timeout = Duration::from_secs_f64(
                    num::<f64>("--connect-timeout", value()?)?.clamp(0.001, 3600.0),
                );
            }
            "-h" | "--help" => return Ok(Command::Help),
            "-V" | "--version" => return Ok(Command::Version),
            other => return Err(format!("unknown argument '{other}'")),
        }
    }
    if c.window < 1024 {
        return Err("--window must be at least 1024 bytes".into());
    }
    if c.max_clients == 0 || c.max_streams == 0 || c.max_per_ip == 0 {
        return Err("--max-clients, --max-per-ip and --max-streams must be at least 1".into());
    }
    Ok(Command::Run(Box::new(c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Result<Box<Config>, String> {
        match parse(args.iter().map(|s| s.to_string()), None)? {
            Command::Run(c) => Ok(c),
            _ => Err("not a run".into()),
        }
    }

    #[test]
    fn defaults_are_closed_and_local() {
        let c = run(&[]).unwrap();
        assert_eq!(c.listen, "127.0.0.1:8765".parse().unwrap());
        assert!(c.policy.rules.is_empty() && c.listen_ports.is_empty() && c.token.is_none());
    }

    #[test]
    fn bad_arguments_are_explained() {
        assert!(run(&["--allow"]).unwrap_err().contains("needs a value"));
        assert!(run(&["--allow", "nope"]).unwrap_err().contains("HOST:PORT"));
        assert!(run(&["--listen", "x"]).unwrap_err().contains("IP:PORT"));
        assert!(run(&["--max-streams", "0"]).is_err());
        assert!(run(&["--frobnicate"]).unwrap_err().contains("unknown"));
        let c = run(&["--token", "s3cret", "--allow", "*.example.org:443"]).unwrap();
        assert_eq!(c.token.as_deref(), Some("s3cret"));
    }
}
