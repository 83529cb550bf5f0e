//! friscy-pack: any container image to a friscy bundle or one composed component, with no
//! Docker. A command line over the friscy-pack library (lib.rs); see docs/PACK.md.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{CommandFactory, FromArgMatches, Parser, Subcommand};
use friscy_pack::{Options, Platform};

/// Container images to friscy components: a bundle (rootfs.tar, manifest.json,
/// friscy.wasm) or, with --compose, one sealed component for `wasmtime run`.
#[derive(Parser, Debug)]
#[command(
    name = "friscy-pack",
    version,
    args_conflicts_with_subcommands = true,
    subcommand_negates_reqs = true,
    disable_help_subcommand = true,
    arg_required_else_help = true,
    after_help = "IMAGE: a `docker save` tar, an OCI layout (dir or tar), a rootfs tar \
                  (.tar/.tar.gz/.tar.zst) or a registry reference (alpine:3.20, \
                  localhost:5000/app:tag, NAME@sha256:...). A path that exists is read as a \
                  file.\nRegistry credentials: ~/.docker/config.json; blobs are cached in \
                  $FRISCY_CACHE/blobs (default ~/.cache/friscy/blobs)."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// The image to pack
    #[arg(value_name = "IMAGE", required = true)]
    image: Option<String>,
    /// The bundle directory, or the component file with --compose
    #[arg(short, long, value_name = "PATH", required = true)]
    output: Option<PathBuf>,
    /// Write one component with the rootfs and image config inside
    #[arg(long, conflicts_with = "web")]
    compose: bool,
    /// Like --compose, then compiled by `wasmtime compile` (the wasmtime on PATH or
    /// $WASMTIME) into a .cwasm: `wasmtime run --allow-precompiled OUT` starts it without
    /// compiling or hashing it (only that wasmtime version runs it)
    #[arg(long, conflicts_with = "web")]
    precompile: bool,
    /// Write a static site: the image in a terminal in the browser (`friscy serve DIR`;
    /// `node DIR/friscy.mjs -- CMD` runs it under Node)
    #[arg(long)]
    web: bool,
    /// OS/ARCH[/VARIANT] to pick from a multi-platform image
    #[arg(long, value_name = "P", default_value = "linux/riscv64", value_parser = platform)]
    platform: Platform,
    /// Compose this exec component instead of the built-in interpreter
    #[arg(long, value_name = "FILE.wasm")]
    exec: Option<PathBuf>,
    /// Translate every riscv64 ELF file of the image to WebAssembly ahead of time
    /// (rv2wasm) into the exec component; cached by content
    #[arg(long, conflicts_with = "web")]
    aot: bool,
    /// Translate only this file (or every ELF file under this directory) of the image,
    /// with the dynamic linker and shared libraries it needs; repeatable; implies --aot
    #[arg(long, value_name = "PATH", conflicts_with = "web")]
    aot_only: Vec<String>,
    /// Talk HTTP, not HTTPS, to the registry (always for localhost)
    #[arg(long)]
    plain_http: bool,
    /// No progress bars or summary
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completions { shell: clap_complete::Shell },
}

fn platform(s: &str) -> Result<Platform, String> {
    Platform::parse(s).map_err(|e| format!("{e:#}"))
}

/// The command line; `--version` also lists the embedded components (hashing them takes
/// a moment, so only when asked).
fn parse() -> Cli {
    let mut cmd = Cli::command();
    if std::env::args().any(|a| a == "--version") {
        let long = format!(
            "{}\n{}",
            env!("CARGO_PKG_VERSION"),
            friscy_pack::version_details()
        );
        cmd = cmd.long_version(&*Box::leak(long.into_boxed_str()));
    }
    let matches = cmd.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

fn main() -> ExitCode {
    // clap prints its own short errors (with "did you mean") and exits 2.
    let cli = parse();
    if let Some(Command::Completions { shell }) = cli.command {
        clap_complete::generate(
            shell,
            &mut Cli::command(),
            "friscy-pack",
            &mut std::io::stdout(),
        );
        return ExitCode::SUCCESS;
    }
    let (Some(image), Some(output)) = (cli.image, cli.output) else {
        unreachable!("clap requires IMAGE and --output without a subcommand");
    };
    let options = Options {
        image,
        output,
        compose: cli.compose,
        precompile: cli.precompile,
        web: cli.web,
        platform: cli.platform,
        exec: cli.exec,
        aot: cli.aot,
        aot_only: cli.aot_only,
        plain_http: cli.plain_http,
        quiet: cli.quiet,
    };
    match friscy_pack::pack(&options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            // One line: the context chain, outermost first.
            // Untrusted bytes (member names, registry replies) are escaped.
            eprintln!("friscy-pack: {}", friscy_pack::printable(&format!("{e:#}")));
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn docker_forms_parse() {
        let c = Cli::try_parse_from(["friscy-pack", "a.tar", "-oout", "--platform=linux/amd64"])
            .unwrap();
        assert_eq!(c.output.unwrap(), PathBuf::from("out"));
        assert_eq!(c.platform.architecture, "amd64");
        let e = Cli::try_parse_from(["friscy-pack", "a.tar", "-o", "x", "--compse"]).unwrap_err();
        assert!(e.to_string().contains("--compose"), "{e}");
        assert!(Cli::try_parse_from(["friscy-pack", "a.tar"]).is_err());
        assert!(Cli::try_parse_from(["friscy-pack", "completions", "bash"]).is_ok());
    }
}
