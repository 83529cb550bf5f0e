//! Loading a component: compiling it takes seconds, so the compiled code is kept in
//! `compiled/` of the cache (`crate::cache`: `$FRISCY_CACHE`, `$XDG_CACHE_HOME/friscy`,
//! `~/.cache/friscy` or `/var/cache/friscy`), keyed by the component (its bytes,
//! and for a file also its path, size, mtime and inode, so a warm start reads nothing but
//! the compiled code, which wasmtime maps), our version and the engine's configuration, and
//! later runs load it in milliseconds.

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Where compiled components are kept, if anywhere.
fn cache_dir() -> Option<PathBuf> {
    Some(crate::cache::base().join("compiled"))
}

/// A file's identity for caches keyed by metadata instead of content: its absolute path,
/// size, mtime, inode and device (a rewrite or replacement changes at least one).
pub fn hash_identity(path: &Path, meta: &std::fs::Metadata, h: &mut impl Hasher) {
    use std::os::unix::fs::MetadataExt;
    std::path::absolute(path)
        .unwrap_or_else(|_| path.to_path_buf())
        .hash(h);
    (
        meta.len(),
        meta.mtime(),
        meta.mtime_nsec(),
        meta.ino(),
        meta.dev(),
    )
        .hash(h);
}

/// Compile the component at `path`, or load it from the cache.
pub fn load(engine: &Engine, path: &Path) -> Result<Component> {
    let meta = std::fs::metadata(path).with_context(|| format!("reading {}", path.display()))?;
    let key = {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        hash_identity(path, &meta, &mut h);
        key_of(engine, h)
    };
    if let Some(c) = cached(engine, &key) {
        return Ok(c);
    }
    // A path seen for the first time may hold a component compiled before under another
    // path (every friscy-pack bundle carries its own friscy.wasm, most of them the same):
    // look it up by content, then remember it under this file's identity too.
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let ckey = content_key(engine, &bytes);
    let component = match cached(engine, &ckey) {
        Some(c) => c,
        None => compile(engine, &bytes, &path.display().to_string(), &ckey)?,
    };
    if let Some(dir) = cache_dir() {
        let by_content = dir.join(format!("{ckey}.cwasm"));
        // A hard link (or else a copy): the cache is an optimisation, failures are not errors.
        let by_path = dir.join(format!("{key}.cwasm"));
        if std::fs::hard_link(&by_content, &by_path).is_err() {
            let tmp = by_path.with_extension(format!("tmp.{}", std::process::id()));
            if std::fs::copy(&by_content, &tmp).is_ok() {
                let _ = std::fs::rename(&tmp, &by_path);
            }
        }
    }
    Ok(component)
}

/// The cache key of a component's bytes.
fn content_key(engine: &Engine, bytes: &[u8]) -> String {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    bytes.hash(&mut h);
    key_of(engine, h)
}

/// Compile `bytes` (named `origin` in errors), or load them from the cache.
pub fn load_bytes(engine: &Engine, bytes: &[u8], origin: &str) -> Result<Component> {
    let key = content_key(engine, bytes);
    if let Some(c) = cached(engine, &key) {
        return Ok(c);
    }
    compile(engine, bytes, origin, &key)
}

/// The cache key: what `h` holds about the component, our version, and the engine's
/// settings that change compiled code (each configuration has its own entry).
fn key_of(engine: &Engine, mut h: impl Hasher) -> String {
    env!("CARGO_PKG_VERSION").hash(&mut h);
    engine.precompile_compatibility_hash().hash(&mut h);
    format!("{:016x}", h.finish())
}

/// The compiled component under `key`, if the cache has it.
fn cached(engine: &Engine, key: &str) -> Option<Component> {
    let cached = cache_dir()?.join(format!("{key}.cwasm"));
    if !cached.exists() {
        return None;
    }
    // SAFETY: the file is one this program serialized with the same wasmtime build (the
    // key covers the component, our version and the engine's settings) into our own
    // cache directory, written whole and then renamed into place; wasmtime also checks
    // its header for engine compatibility.
    let c = unsafe { Component::deserialize_file(engine, &cached) }.ok();
    if c.is_some() {
        crate::cache::touch(&cached);
    }
    c
}

/// Compile `bytes` and keep the result in the cache under `key`.
fn compile(engine: &Engine, bytes: &[u8], origin: &str, key: &str) -> Result<Component> {
    let cache = cache_dir().map(|d| d.join(format!("{key}.cwasm")));
    // Its limit is read before the compile, so that a bad value fails at once.
    let max = crate::cache::compiled_max()?;
    let component = Component::new(engine, bytes)
        .map_err(anyhow::Error::from)
        .with_context(|| format!("compiling {origin}"))?;
    if let Some(cached) = &cache
        && let Ok(serialized) = component.serialize()
    {
        // The cache is an optimisation: failing to write it is not an error. The temporary
        // name is per process, so two that compile at once (two containers starting) do
        // not write into one file.
        let _ = std::fs::create_dir_all(cached.parent().unwrap());
        let tmp = cached.with_extension(format!("tmp.{}", std::process::id()));
        if std::fs::write(&tmp, serialized).is_ok() && std::fs::rename(&tmp, cached).is_ok() {
            // Every rebuilt component adds an entry: keep the most recently used.
            let dir = cached.parent().unwrap();
            crate::cache::evict(dir, ".cwasm", max, Some(cached));
        }
    }
    Ok(component)
}
