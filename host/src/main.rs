//! `friscy`: the native host. It runs the open `friscy.wasm` (kernel + exec + vfs composed,
//! still importing `friscy:vfs/rootfs`) on wasmtime, serves that import from an image file
//! on disk, passes stdio and the chosen environment through, and exits with the guest's
//! exact status. With `--proxy` it runs `friscy-relay-open.wasm` instead, whose net
//! component relays sockets through `friscy-proxy`, and serves its `friscy:net/transport`
//! import over a WebSocket (`relay_transport`), as a browser page would.

mod cli;
mod decompress;
mod limits;
mod relay;
mod relay_transport;
mod rootfs;
mod tarcheck;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use wasmtime::component::{Component, Linker, ResourceTable};
use wasmtime::{Config, Engine, Store};
use wasmtime_wasi::p2::bindings::sync::Command;
use wasmtime_wasi::{I32Exit, WasiCtx, WasiCtxView, WasiView};

use cli::RunArgs;
use rootfs::RootfsFile;

struct State {
    wasi: WasiCtx,
    table: ResourceTable,
    /// The store limit on linear memories (limits.rs).
    limiter: limits::Limiter,
    /// The WebSocket to the proxy, with `--proxy`.
    relay: Option<relay_transport::WsTransport>,
}

impl WasiView for State {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

fn main() -> ExitCode {
    match cli::parse(std::env::args().skip(1)) {
        Ok(cli::Command::Run(args)) => match run(args) {
            Ok(status) => ExitCode::from(status),
            Err(e) => {
                eprintln!("friscy: {e:#}");
                ExitCode::from(125)
            }
        },
        Ok(cli::Command::CachePrune { all }) => match decompress::prune(all) {
            Ok((n, bytes)) => {
                eprintln!("friscy: removed {n} cached image(s), {} MiB", bytes >> 20);
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("friscy: cache prune: {e:#}");
                ExitCode::from(1)
            }
        },
        Ok(cli::Command::Help) => {
            print!("{}", cli::USAGE);
            ExitCode::SUCCESS
        }
        Ok(cli::Command::Version) => {
            println!("friscy {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Err(msg) => {
            eprintln!("friscy: {msg}\n\n{}", cli::USAGE);
            ExitCode::from(2)
        }
    }
}

/// The open component: `--component`, `$FRISCY_COMPONENT`, or `friscy-open.wasm` next to
/// this executable (where `scripts/build.sh` puts both). With `--proxy` the default is
/// `friscy-relay-open.wasm` there, and `$FRISCY_COMPONENT` is ignored: it names the
/// wasi:sockets build, which would not import the transport.
fn component_path(args: &RunArgs) -> Result<PathBuf> {
    if let Some(p) = &args.component {
        return Ok(p.clone());
    }
    let default = match args.proxy {
        Some(_) => "friscy-relay-open.wasm",
        None => {
            if let Some(p) = std::env::var_os("FRISCY_COMPONENT") {
                return Ok(p.into());
            }
            "friscy-open.wasm"
        }
    };
    let exe = std::env::current_exe().context("locating the friscy executable")?;
    let beside = exe.with_file_name(default);
    if beside.exists() {
        return Ok(beside);
    }
    bail!(
        "no component: pass --component {default} or set FRISCY_COMPONENT (looked for {})",
        beside.display()
    )
}

/// Compile the component, or load it from the cache of compiled components. `epoch`:
/// whether the engine has epoch interruption (compiled code differs).
fn load_component(engine: &Engine, path: &Path, epoch: bool) -> Result<Component> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let key = {
        use std::hash::{Hash, Hasher};
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        env!("CARGO_PKG_VERSION").hash(&mut h);
        epoch.hash(&mut h);
        format!("{:016x}", h.finish())
    };
    let cache = std::env::var_os("FRISCY_CACHE")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/friscy")))
        .map(|d| d.join("compiled").join(format!("{key}.cwasm")));
    if let Some(cached) = &cache
        && cached.exists()
    {
        // SAFETY: the file is one this program serialized with the same wasmtime build
        // (the key covers the component bytes and our version) into our own cache
        // directory; wasmtime also checks its header for engine compatibility.
        if let Ok(c) = unsafe { Component::deserialize_file(engine, cached) } {
            return Ok(c);
        }
    }
    let component = Component::new(engine, &bytes)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("compiling {}", path.display()))?;
    if let Some(cached) = &cache
        && let Ok(serialized) = component.serialize()
    {
        // The cache is an optimisation: failing to write it is not an error.
        let _ = std::fs::create_dir_all(cached.parent().unwrap());
        let tmp = cached.with_extension("tmp");
        if std::fs::write(&tmp, serialized).is_ok() {
            let _ = std::fs::rename(&tmp, cached);
        }
    }
    Ok(component)
}

fn run(mut args: RunArgs) -> Result<u8> {
    // Limits first: a malformed one is the user's error, reported before any work.
    let host_limits = limits::resolve(&mut args.env)?;
    // A friscy-pack bundle directory: its rootfs.tar, and its manifest.json as the image
    // config (entrypoint, cmd, env, working dir), as the packed component would have.
    let (image, config) = if args.rootfs.is_dir() {
        let manifest = args.rootfs.join("manifest.json");
        let config =
            std::fs::read(&manifest).with_context(|| format!("bundle {}", manifest.display()))?;
        (RootfsFile::open(&args.rootfs.join("rootfs.tar"))?, config)
    } else {
        (RootfsFile::open(&args.rootfs)?, Vec::new())
    };
    // Connect before compiling: a proxy that is down or refuses us is the likelier error,
    // and the user should not wait for a compile to hear about it.
    let relay = match &args.proxy {
        Some(url) => Some(relay::connect(url)?),
        None => None,
    };
    let epoch = host_limits.interrupt_after.is_some();
    let engine = Engine::new(Config::new().epoch_interruption(epoch))?;
    let component = load_component(&engine, &component_path(&args)?, epoch)?;

    let mut linker: Linker<State> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    rootfs::add_to_linker(&mut linker, image, config)?;
    if relay.is_some() {
        relay::add_to_linker(&mut linker)?;
    }

    let mut wasi = WasiCtx::builder();
    wasi.inherit_stdio();
    wasi.arg("friscy");
    for a in &args.command {
        wasi.arg(a);
    }
    for (k, v) in &args.env {
        wasi.env(k, v);
    }
    if args.trace {
        wasi.env("FRISCY_TRACE", "1");
    }
    if args.net {
        // What `wasmtime run -S inherit-network -S allow-ip-name-lookup` grants.
        wasi.inherit_network();
        wasi.allow_tcp(true);
        wasi.allow_udp(true);
        wasi.allow_ip_name_lookup(true);
    }
    if !args.publish.is_empty() {
        let ports: Vec<String> = args
            .publish
            .iter()
            .map(|(h, g)| format!("{h}:{g}"))
            .collect();
        wasi.env("FRISCY_PORTS", ports.join(","));
    }
    // Mounts reach the kernel as preopens, exactly as `wasmtime run --dir HOST::GUEST`.
    for (host, guest, ro) in &args.volumes {
        let perms = match ro {
            true => wasmtime_wasi::FsPerms::ReadOnly,
            false => wasmtime_wasi::FsPerms::ReadWrite,
        };
        wasi.preopened_dir(host, guest, perms)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("--volume {}:{guest}", host.display()))?;
    }
    let state = State {
        wasi: wasi.build(),
        table: ResourceTable::new(),
        limiter: limits::Limiter::new(&host_limits),
        relay,
    };
    let mut store = Store::new(&engine, state);
    store.limiter(|s| &mut s.limiter);
    if let Some(after) = host_limits.interrupt_after {
        // The backstop for FRISCY_TIMEOUT: one epoch tick, after the timeout and a grace.
        store.set_epoch_deadline(1);
        store.epoch_deadline_trap();
        let engine = engine.clone();
        std::thread::spawn(move || {
            std::thread::sleep(after);
            engine.increment_epoch();
        });
    }
    let command = Command::instantiate(&mut store, &component, &linker)
        .map_err(anyhow::Error::from)
        .context("instantiating the friscy component")?;
    let result = command.wasi_cli_run().call_run(&mut store);
    match result {
        Ok(Ok(())) => Ok(0),
        Ok(Err(())) => Ok(1),
        Err(e) => {
            if let Some(exit) = e.downcast_ref::<I32Exit>() {
                return Ok(exit.0 as u8);
            }
            // A limit the kernel could not turn into an errno: one line, and the status
            // of a container killed by SIGKILL (137), as docker reports an OOM kill.
            if e.downcast_ref::<wasmtime::Trap>() == Some(&wasmtime::Trap::Interrupt) {
                eprintln!("friscy: timeout: the run was interrupted (--timeout)");
                return Ok(137);
            }
            let limiter = &store.data().limiter;
            if limiter.refused {
                eprintln!(
                    "friscy: out of memory: the component reached its store limit of {} MiB \
                     (memory + disk + overhead; raise --memory or FRISCY_MEMORY)",
                    limiter.max() >> 20
                );
                return Ok(137);
            }
            Err(anyhow::Error::from(e).context("the friscy component trapped"))
        }
    }
}
