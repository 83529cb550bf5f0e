//! `friscy serve DIR [--port N] [--host ADDR]`: a small static file server for the sites
//! `friscy-pack --web` writes. The page needs cross-origin isolation (SharedArrayBuffer
//! and Atomics.wait in its worker), so every response carries COOP `same-origin`, COEP
//! `require-corp` and CORP `same-origin`; and `.wasm` must be `application/wasm` for
//! streaming compilation. Text and wasm go out gzip'd to clients that accept it; an ETag
//! (size and mtime) answers revalidations with 304, which also lets Chromium reuse its
//! cache of the compiled kernel on a second visit. Plain HTTP/1.1 with keep-alive, GET and
//! HEAD only, one thread per connection; nothing outside DIR is ever served.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::UNIX_EPOCH;

use flate2::Compression;
use flate2::write::GzEncoder;

use anyhow::{Context, Result};

/// `friscy serve`'s options.
#[derive(clap::Args, Debug)]
pub struct ServeArgs {
    /// The site: a directory from `friscy-pack IMAGE --web -o DIR`
    pub dir: PathBuf,
    /// Port to listen on
    #[arg(short, long, default_value_t = 8080)]
    pub port: u16,
    /// Address to listen on
    #[arg(long, default_value = "127.0.0.1")]
    pub host: String,
}

/// Entry point for `friscy serve`.
pub fn main(args: &ServeArgs) -> ExitCode {
    if !args.dir.is_dir() {
        eprintln!("friscy serve: {}: not a directory", args.dir.display());
        return ExitCode::from(2);
    }
    match serve(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("friscy serve: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve(args: &ServeArgs) -> Result<()> {
    let listener = TcpListener::bind((args.host.as_str(), args.port))
        .with_context(|| format!("listening on {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    let root = args.dir.canonicalize()?;
    // Tests start the server on port 0 and read the chosen port from this line.
    println!("friscy serve: {} at http://{addr}/", root.display());
    std::io::stdout().flush()?;
    let cache = GzCache::default();
    for conn in listener.incoming() {
        let Ok(conn) = conn else { continue };
        let root = root.clone();
        let cache = cache.clone();
        std::thread::spawn(move || {
            let _ = handle(conn, &root, &cache);
        });
    }
    Ok(())
}

/// Gzip'd bodies by path and ETag, so the kernel's wasm is compressed once, not per visit.
type GzCache = Arc<Mutex<HashMap<(PathBuf, String), Arc<Vec<u8>>>>>;

/// Types worth compressing (the image is already gzip).
fn compressible(ctype: &str) -> bool {
    ctype.starts_with("text/") || ctype == "application/json" || ctype == "application/wasm"
}

/// A validator that changes with the file: its size and modification time.
fn etag(meta: &std::fs::Metadata) -> String {
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos());
    format!("\"{:x}-{mtime:x}\"", meta.len())
}

fn gzipped(cache: &GzCache, path: &Path, tag: &str) -> Result<Arc<Vec<u8>>> {
    let key = (path.to_path_buf(), tag.to_string());
    if let Some(hit) = cache.lock().unwrap().get(&key) {
        return Ok(hit.clone());
    }
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(&std::fs::read(path)?)?;
    let body = Arc::new(gz.finish()?);
    cache.lock().unwrap().insert(key, body.clone());
    Ok(body)
}

/// The MIME type by extension (what browsers need for modules, wasm and the image).
pub fn mime(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()).unwrap_or("") {
        "html" | "htm" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" | "map" => "application/json",
        "wasm" => "application/wasm",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "txt" | "md" => "text/plain; charset=utf-8",
        "gz" => "application/gzip",
        "tar" => "application/x-tar",
        _ => "application/octet-stream",
    }
}

/// The file for a request path, or None if it would leave `root` (or has no file).
pub fn resolve(root: &Path, target: &str) -> Option<PathBuf> {
    let path = target.split(['?', '#']).next().unwrap_or("/");
    let decoded = percent_decode(path)?;
    let mut out = root.to_path_buf();
    for c in Path::new(&decoded).components() {
        match c {
            Component::Normal(p) => out.push(p),
            Component::RootDir | Component::CurDir => {}
            _ => return None,
        }
    }
    if out.is_dir() {
        out.push("index.html");
    }
    // Symlinks may not lead out of the site either.
    let real = out.canonicalize().ok()?;
    (real.starts_with(root) && real.is_file()).then_some(real)
}

fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn handle(conn: TcpStream, root: &Path, cache: &GzCache) -> Result<()> {
    let mut reader = BufReader::new(conn.try_clone()?);
    let mut out = conn;
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut parts = line.split_whitespace();
        let (method, target, version) = (
            parts.next().unwrap_or(""),
            parts.next().unwrap_or("/").to_string(),
            parts.next().unwrap_or("HTTP/1.0").to_string(),
        );
        let method = method.to_string();
        let mut keep_alive = version == "HTTP/1.1";
        let mut if_none_match = None;
        let mut accepts_gzip = false;
        loop {
            let mut h = String::new();
            if reader.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let Some((k, v)) = h.split_once(':') else {
                continue;
            };
            let v = v.trim();
            if k.eq_ignore_ascii_case("connection") {
                keep_alive = !v.eq_ignore_ascii_case("close");
            } else if k.eq_ignore_ascii_case("if-none-match") {
                if_none_match = Some(v.to_string());
            } else if k.eq_ignore_ascii_case("accept-encoding") {
                accepts_gzip = v.split(',').any(|e| e.trim().starts_with("gzip"));
            }
        }
        let (mut status, file) = match method.as_str() {
            "GET" | "HEAD" => match resolve(root, &target) {
                Some(f) => ("200 OK", Some(f)),
                None => ("404 Not Found", None),
            },
            _ => ("405 Method Not Allowed", None),
        };
        // The body: a file (maybe gzip'd), nothing for a 304, or the status as text.
        let mut extra = String::new();
        let mut gz = None;
        let (len, ctype) = match &file {
            Some(f) => {
                let meta = std::fs::metadata(f)?;
                let tag = etag(&meta);
                extra.push_str(&format!("ETag: {tag}\r\n"));
                let ctype = mime(f);
                if compressible(ctype) {
                    extra.push_str("Vary: Accept-Encoding\r\n");
                }
                if if_none_match.as_deref() == Some(tag.as_str()) {
                    status = "304 Not Modified";
                    (0, ctype)
                } else if accepts_gzip && compressible(ctype) {
                    let body = gzipped(cache, f, &tag)?;
                    extra.push_str("Content-Encoding: gzip\r\n");
                    let n = body.len() as u64;
                    gz = Some(body);
                    (n, ctype)
                } else {
                    (meta.len(), ctype)
                }
            }
            None => (status.len() as u64 + 1, "text/plain; charset=utf-8"),
        };
        write!(
            out,
            "HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len}\r\n{extra}\
             Cross-Origin-Opener-Policy: same-origin\r\n\
             Cross-Origin-Embedder-Policy: require-corp\r\n\
             Cross-Origin-Resource-Policy: same-origin\r\n\
             Cache-Control: no-cache\r\n\
             Connection: {}\r\n\r\n",
            if keep_alive { "keep-alive" } else { "close" }
        )?;
        if method != "HEAD" && !status.starts_with("304") {
            match (&file, gz) {
                (_, Some(body)) => out.write_all(&body)?,
                (Some(f), None) => {
                    std::io::copy(&mut std::fs::File::open(f)?.take(len), &mut out)?;
                }
                (None, None) => writeln!(out, "{status}")?,
            }
        }
        out.flush()?;
        if !keep_alive {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_site() {
        let dir = tempfile_dir();
        std::fs::create_dir_all(dir.join("kernel")).unwrap();
        std::fs::write(dir.join("index.html"), "x").unwrap();
        std::fs::write(dir.join("kernel/friscy.core.wasm"), "x").unwrap();
        let root = dir.canonicalize().unwrap();
        assert_eq!(resolve(&root, "/"), Some(root.join("index.html")));
        assert_eq!(
            resolve(&root, "/kernel/friscy.core.wasm?v=1"),
            Some(root.join("kernel/friscy.core.wasm"))
        );
        assert_eq!(resolve(&root, "/%6Bernel/"), None, "no index.html there");
        assert_eq!(resolve(&root, "/../etc/passwd"), None);
        assert_eq!(resolve(&root, "/kernel/%2e%2e/%2e%2e/etc/passwd"), None);
        assert_eq!(resolve(&root, "/missing"), None);
        assert_eq!(mime(Path::new("a.wasm")), "application/wasm");
        assert_eq!(mime(Path::new("page.js")), "text/javascript; charset=utf-8");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> PathBuf {
        let d = std::env::temp_dir().join(format!("friscy-serve-test-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d
    }
}
