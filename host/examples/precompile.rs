//! `precompile IN.wasm OUT.cwasm`: compiles a component (or core module) with the engine
//! settings `friscy run` uses and writes wasmtime's compiled artifact, an ELF file whose
//! `.text` `objdump -d` disassembles: a way to read what Cranelift made of exec's
//! interpreter loop.
fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let (Some(input), Some(output)) = (args.next(), args.next()) else {
        anyhow::bail!("usage: precompile IN.wasm OUT.cwasm");
    };
    let bytes = std::fs::read(&input)?;
    let engine = wasmtime::Engine::new(&wasmtime::Config::new())?;
    // A component's header has layer 1 (bytes 6..8); a core module's, layer 0.
    let out = if bytes.get(6..8) == Some(&[1, 0]) {
        engine.precompile_component(&bytes)?
    } else {
        engine.precompile_module(&bytes)?
    };
    std::fs::write(output, out)?;
    Ok(())
}
