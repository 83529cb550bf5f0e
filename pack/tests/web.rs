//! friscy-pack --web: the site's files (the embedded browser bundle), the image beside it
//! as gzip with its inflated size and sha256 in friscy.json, the same flattened tar as a
//! bundle's rootfs.tar, and the config. The site itself runs in web/test (Node and
//! Chromium).

mod common;

use std::io::Read;

use common::*;

#[test]
fn web_site_holds_the_bundle_and_the_image_beside_it() {
    let Some(alpine) = alpine() else { return };
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let input = dir.path().join("alpine.tar");
    std::fs::write(&input, gzip(&alpine)).unwrap();
    let site = dir.path().join("site");
    let r = pack(
        &[
            input.to_str().unwrap(),
            "--web",
            "-o",
            site.to_str().unwrap(),
        ],
        &cache,
    );
    if r.stderr.contains("no browser bundle") {
        // A friscy-pack built before build/web existed says so and writes nothing.
        assert_eq!(r.status, Some(1));
        println!(
            "SKIPPED: this friscy-pack has no browser bundle (scripts/build.sh makes build/web)"
        );
        return;
    }
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    for f in [
        "index.html",
        "page.js",
        "worker.js",
        "host.js",
        "shared.js",
        "friscy.mjs",
        "node-worker.mjs",
        "kernel/friscy.js",
        "kernel/friscy.core.wasm",
        "vendor/xterm.mjs",
        "vendor/addon-fit.mjs",
        "vendor/xterm.css",
    ] {
        assert!(site.join(f).is_file(), "{f} missing");
    }
    let cfg: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join("friscy.json")).unwrap()).unwrap();
    assert_eq!(cfg["name"], "alpine");
    assert_eq!(cfg["image"]["file"], "image/rootfs.tar.gz");
    assert_eq!(
        cfg["default_args"],
        serde_json::json!(["/bin/sh"]),
        "a plain rootfs gets a shell"
    );
    let gz = std::fs::read(site.join("image/rootfs.tar.gz")).unwrap();
    assert_eq!(cfg["image"]["size"], gz.len() as u64);
    let mut tar = Vec::new();
    flate2::read::GzDecoder::new(&gz[..])
        .read_to_end(&mut tar)
        .unwrap();
    assert_eq!(cfg["image"]["tar_size"], tar.len() as u64);
    assert_eq!(cfg["image"]["digest"], sha256(&tar));

    // The same flattened tar a bundle gets.
    let bundle = dir.path().join("bundle");
    let r = pack(
        &[input.to_str().unwrap(), "-o", bundle.to_str().unwrap()],
        &cache,
    );
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    assert!(
        std::fs::read(bundle.join("rootfs.tar")).unwrap() == tar,
        "the same rootfs"
    );
    assert_eq!(
        std::fs::read(site.join("image/config.json")).unwrap(),
        b"",
        "a rootfs tar has no config"
    );
}

#[test]
fn web_and_compose_are_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let cache = dir.path().join("cache");
    let r = pack(&["x.tar", "--web", "--compose", "-o", "out"], &cache);
    // A usage error (clap's status 2) naming both options.
    assert_eq!(r.status, Some(2), "{}", r.stderr);
    assert!(
        r.stderr.contains("--web") && r.stderr.contains("--compose"),
        "{}",
        r.stderr
    );
}
