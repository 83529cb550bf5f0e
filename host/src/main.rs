//! `friscy`: the native host. `friscy run IMAGE` (cli.rs) resolves any image input to a
//! rootfs tar and an image config (image.rs, through friscy-pack's library), runs the open
//! `friscy.wasm` (kernel + exec + vfs composed, still importing `friscy:vfs/rootfs`) on
//! wasmtime, serves that import from the tar on disk, passes stdio and the chosen
//! environment through, and exits with the guest's exact status. With `--proxy` it runs `friscy-relay-open.wasm` instead, whose net
//! component relays sockets through `friscy-proxy`, and serves its `friscy:net/transport`
//! import over a WebSocket (`relay_transport`), as a browser page would. With a root
//! filesystem directory it runs `friscy-dir-open.wasm`, whose vfs reads the directory
//! through `friscy:vfs/tree` (`friscy_host::tree`). The console (`friscy:tty/console`:
//! `-t`, the window size, forwarded signals) is `terminal`.

mod cli;
mod decompress;
mod image;
mod limits;
mod relay;
mod relay_transport;
mod rootfs;
mod serve;
mod tarcheck;
mod terminal;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result, bail};
use clap::CommandFactory;
use wasmtime::component::{Linker, ResourceTable};
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
    console: terminal::Console,
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
    // clap's short errors (with "did you mean"), exit status 2.
    let parsed = match cli::parse(std::env::args().collect()) {
        Ok(p) => p,
        Err(e) => e.exit(),
    };
    match parsed.command {
        cli::Command::Run(args) => {
            if let Err(msg) = args.validate() {
                eprintln!("friscy: {msg}");
                return ExitCode::from(2);
            }
            match run(*args) {
                Ok(status) => ExitCode::from(status),
                Err(e) => {
                    eprintln!("friscy: {e:#}");
                    ExitCode::from(125)
                }
            }
        }
        cli::Command::Cache(cli::CacheCommand::Prune { all }) => match decompress::prune(all) {
            Ok(p) => {
                let mib = (p.images.1 + p.compiled.1 + p.indexes.1) >> 20;
                eprintln!(
                    "friscy: removed {} cached image(s), {} compiled component(s) and {} \
                     index(es), {mib} MiB",
                    p.images.0, p.compiled.0, p.indexes.0
                );
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("friscy: cache prune: {e:#}");
                ExitCode::from(1)
            }
        },
        cli::Command::Serve(args) => serve::main(&args),
        cli::Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut cli::Cli::command(),
                "friscy",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
    }
}

/// The open component: `--component`, `$FRISCY_COMPONENT`, a friscy-pack bundle's own
/// `friscy.wasm` (with `--aot`, the one holding the image's translations), or the fused
/// build `friscy-fused-open.wasm` next to this executable (where `scripts/build.sh` puts them;
/// `friscy-open.wasm` if there is no fused one). The fused build has exec, vfs and net
/// linked into the kernel: every byte the guest reads or writes crosses no component
/// boundary, where wasmtime's adapters' list copies dominated I/O (pipes 9x, file copies
/// 5x faster; docs/PERFORMANCE.md). With `--proxy` the default is `friscy-relay-open.wasm`
/// there, and with a root filesystem directory `friscy-dir-open.wasm`;
/// `$FRISCY_COMPONENT` is ignored for both: it names the tar build, which imports
/// neither the transport nor the tree.
fn component_path(args: &RunArgs, rootfs: &Rootfs) -> Result<PathBuf> {
    if let Some(p) = &args.component {
        return Ok(p.clone());
    }
    let default = match (&args.proxy, rootfs) {
        (Some(_), _) => "friscy-relay-open.wasm",
        (None, Rootfs::Dir(_)) => "friscy-dir-open.wasm",
        (None, _) => {
            if let Some(p) = std::env::var_os("FRISCY_COMPONENT") {
                return Ok(p.into());
            }
            // A bundle runs with the component friscy-pack made for it (with --aot, the
            // one that holds its translations).
            if let Rootfs::Tar(_, _, Some(own)) = rootfs {
                return Ok(own.clone());
            }
            let exe = std::env::current_exe().context("locating the friscy executable")?;
            let fused = exe.with_file_name("friscy-fused-open.wasm");
            if fused.exists() {
                return Ok(fused);
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

/// What `--rootfs` named.
enum Rootfs {
    /// A tar image, with the image config (empty, or a bundle's manifest.json) and a
    /// bundle's own component.
    Tar(RootfsFile, Vec<u8>, Option<PathBuf>),
    /// A root filesystem directory (friscy-dir-open.wasm reads it in place).
    Dir(PathBuf),
}

fn run(args: RunArgs) -> Result<u8> {
    // The guest's variables, then the options the kernel applies (user, working dir,
    // limits...) as FRISCY_* variables, exactly as `wasmtime run --env` would give them;
    // a later one wins.
    let mut env = args.guest_env().map_err(anyhow::Error::msg)?;
    env.extend(
        args.kernel_env()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v)),
    );
    // Limits next: a malformed one is the user's error, reported before any work. The
    // defaults that protect the host are added to `env` for the kernel.
    let host_limits = limits::resolve(&mut env)?;
    let (image, command) = args.image_and_command();
    // A directory that is no image (no bundle, OCI layout or `docker save` manifest) is the
    // root filesystem itself, read in place by friscy-dir-open.wasm; anything else becomes
    // a tar and an image config (image.rs).
    let rootfs = if image::is_rootfs_dir(std::path::Path::new(&image)) {
        if args.proxy.is_some() {
            bail!("--proxy with a root filesystem directory is not supported (use a tar image)");
        }
        Rootfs::Dir(PathBuf::from(&image))
    } else {
        let resolved = image::resolve(&image, &args.platform, args.quiet)?;
        Rootfs::Tar(
            RootfsFile::open(&resolved.rootfs)?,
            resolved.config,
            resolved.component,
        )
    };
    // Connect before compiling: a proxy that is down or refuses us is the likelier error,
    // and the user should not wait for a compile to hear about it.
    let relay = match &args.proxy {
        Some(url) => Some(relay::connect(url)?),
        None => None,
    };
    // Epoch interruption changes the compiled code: only runs with a timeout have it
    // (`compiled` keys its cache by the engine's configuration).
    let epoch = host_limits.interrupt_after.is_some();
    let mut config = Config::new();
    config.epoch_interruption(epoch);
    // FRISCY_PROFILE=perfmap: /tmp/perf-PID.map names the guest-side Wasm functions for
    // `perf record` / `perf report` (as `wasmtime run --profile=perfmap`).
    if std::env::var("FRISCY_PROFILE").is_ok_and(|v| v == "perfmap") {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    let engine = Engine::new(&config)?;
    let component = friscy_host::compiled::load(&engine, &component_path(&args, &rootfs)?)?;

    let mut linker: Linker<State> = Linker::new(&engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)?;
    match rootfs {
        Rootfs::Tar(image, config, _) => rootfs::add_to_linker(&mut linker, image, config)?,
        Rootfs::Dir(dir) => friscy_host::tree::add_to_linker(
            &mut linker,
            friscy_host::tree::open(&dir)?,
            Vec::new(),
        )?,
    }
    if relay.is_some() {
        relay::add_to_linker(&mut linker)?;
    }
    terminal::add_to_linker(&mut linker)?;

    let mut wasi = WasiCtx::builder();
    // This host calls into the components synchronously: a blocking WASI call (a read
    // of a `-v` file) may block this thread instead of going to tokio's blocking pool and
    // back, which cost two thread handoffs per call (a third of a `cp` through `-v`).
    wasi.allow_blocking_current_thread(true);
    // docker run: without -i the container's stdin is empty.
    if args.interactive {
        wasi.inherit_stdin();
    }
    wasi.inherit_stdout();
    wasi.inherit_stderr();
    wasi.arg("friscy");
    for a in &command {
        wasi.arg(a);
    }
    if args.tty && !env.iter().any(|(k, _)| k == "TERM") {
        // What docker run -t sets.
        wasi.env("TERM", "xterm");
    }
    for (k, v) in &env {
        wasi.env(k, v);
    }
    if args.host_network() {
        // What `wasmtime run -S inherit-network -S allow-ip-name-lookup` grants.
        wasi.inherit_network();
        wasi.allow_tcp(true);
        wasi.allow_udp(true);
        wasi.allow_ip_name_lookup(true);
    }
    // Mounts reach the kernel as preopens, exactly as `wasmtime run --dir HOST::GUEST`.
    for v in &args.volume {
        let perms = match v.read_only {
            true => wasmtime_wasi::FsPerms::ReadOnly,
            false => wasmtime_wasi::FsPerms::ReadWrite,
        };
        wasi.preopened_dir(&v.host, &v.guest, perms)
            .map_err(anyhow::Error::from)
            .with_context(|| format!("--volume {}:{}", v.host.display(), v.guest))?;
    }
    // Raw mode from here on; `_restore` puts the terminal back however `run` ends.
    let (console, _restore) = terminal::Console::start(args.tty)?;
    let state = State {
        wasi: wasi.build(),
        table: ResourceTable::new(),
        limiter: limits::Limiter::new(&host_limits),
        relay,
        console,
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
