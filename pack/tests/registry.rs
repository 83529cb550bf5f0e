//! Registry pulls against a real registry: Debian's `docker-registry` (the CNCF
//! distribution registry) started on a free 127.0.0.1 port with its storage in a temporary
//! directory, and a multi-arch image pushed to it over the OCI distribution API.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::*;
use serde_json::json;

const REGISTRY: &str = "/usr/bin/docker-registry";

/// The registry process, stopped when the test ends (pass or fail).
struct Registry {
    child: Child,
    addr: String,
    _dir: tempfile::TempDir,
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_registry() -> Option<Registry> {
    if !Path::new(REGISTRY).exists() {
        eprintln!("SKIPPED: no {REGISTRY} (apt-get install docker-registry; scripts/setup.sh)");
        return None;
    }
    let dir = temp_dir("registry");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("127.0.0.1:{port}");
    let config = dir.path().join("config.yml");
    std::fs::write(
        &config,
        format!(
            "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: {}\nhttp:\n  addr: {addr}\n",
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let child = Command::new(REGISTRY)
        .arg("serve")
        .arg(&config)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let reg = Registry {
        child,
        addr,
        _dir: dir,
    };
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(20) {
        if let Ok(r) = ureq::get(&format!("http://{}/v2/", reg.addr)).call()
            && r.status() == 200
        {
            return Some(reg);
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("the registry did not come up on {}", reg.addr);
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .new_agent()
}

/// Push a blob: POST an upload, then PUT its bytes with the digest (monolithic upload).
fn push_blob(reg: &Registry, repo: &str, data: &[u8]) {
    let a = agent();
    let r = a
        .post(&format!("http://{}/v2/{repo}/blobs/uploads/", reg.addr))
        .send_empty()
        .unwrap();
    assert_eq!(r.status(), 202);
    let loc = r.headers()["location"].to_str().unwrap().to_string();
    let loc = if loc.starts_with('/') {
        format!("http://{}{loc}", reg.addr)
    } else {
        loc
    };
    let sep = if loc.contains('?') { '&' } else { '?' };
    let r = a
        .put(&format!("{loc}{sep}digest={}", sha256(data)))
        .header("Content-Type", "application/octet-stream")
        .send(data)
        .unwrap();
    assert_eq!(r.status(), 201, "blob upload");
}

fn push_manifest(reg: &Registry, repo: &str, reference: &str, media: &str, data: &[u8]) {
    let r = agent()
        .put(&format!(
            "http://{}/v2/{repo}/manifests/{reference}",
            reg.addr
        ))
        .header("Content-Type", media)
        .send(data)
        .unwrap();
    assert_eq!(r.status(), 201, "manifest push {reference}");
}

const MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// A multi-arch index: riscv64 (Alpine + a layer) and amd64 (one small layer).
fn push_image(reg: &Registry, repo: &str, alpine: Vec<u8>) -> String {
    let top = LayerBuilder::new()
        .dir("srv")
        .file("srv/msg", b"pulled\n")
        .whiteout("etc/motd")
        .finish();
    let layers = vec![alpine, top];
    let run = json!({"Entrypoint": ["/bin/cat"], "Cmd": ["/srv/msg"], "WorkingDir": "/srv"});
    let mut blobs = BTreeMap::new();
    let (rv, rv_m) = oci_manifest(
        &mut blobs,
        &config_json("riscv64", run, &layers),
        &layers,
        &["gzip", "zstd"],
    );
    let amd_layers = vec![LayerBuilder::new().file("x86", b"not for us\n").finish()];
    let (amd, amd_m) = oci_manifest(
        &mut blobs,
        &config_json("amd64", json!({}), &amd_layers),
        &amd_layers,
        &["gzip"],
    );
    for (digest, data) in &blobs {
        if digest != &rv && digest != &amd {
            push_blob(reg, repo, data);
        }
    }
    push_manifest(reg, repo, &rv, MANIFEST, &rv_m);
    push_manifest(reg, repo, &amd, MANIFEST, &amd_m);
    let index = serde_json::to_vec(&json!({
    "schemaVersion": 2, "mediaType": INDEX,
    "manifests": [
        {"mediaType": MANIFEST, "digest": amd, "size": amd_m.len(),
         "platform": {"os": "linux", "architecture": "amd64"}},
        {"mediaType": MANIFEST, "digest": rv, "size": rv_m.len(),
         "platform": {"os": "linux", "architecture": "riscv64"}},
    ]}))
    .unwrap();
    push_manifest(reg, repo, "multi", INDEX, &index);
    sha256(&index)
}

#[test]
fn multi_arch_images_pull_verify_cache_and_run() {
    let Some(alpine) = alpine() else { return };
    let Some(reg) = start_registry() else { return };
    let index_digest = push_image(&reg, "test/app", alpine);
    let tmp = temp_dir("pull");
    let cache = tmp.path().join("cache");
    let image = format!("{}/test/app:multi", reg.addr);

    let app = tmp.path().join("app.wasm");
    let r = pack(&[&image, "--compose", "-o", app.to_str().unwrap()], &cache);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    let r = wasmtime(&app, &[], &[]);
    assert_eq!(r.stdout, "pulled\n", "{}", r.stderr);
    let r = wasmtime(&app, &[], &["/etc/alpine-release"]);
    assert_eq!(r.stdout, "3.20.3\n", "{}", r.stderr);

    // By digest, into a bundle; the manifest records what was pulled.
    let by_digest = format!("{}/test/app@{index_digest}", reg.addr);
    let out = tmp.path().join("bundle");
    let r = pack(&[&by_digest, "-o", out.to_str().unwrap()], &cache);
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    let m: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["image_digest"], index_digest.as_str());
    assert_eq!(m["platform"], "linux/riscv64");
    assert_eq!(m["entrypoint"], json!(["/bin/cat"]));

    // Only the riscv64 image's blobs were fetched, and the cache holds them verified.
    let cached: Vec<_> = std::fs::read_dir(cache.join("blobs/sha256"))
        .unwrap()
        .collect();
    assert_eq!(cached.len(), 3, "config + two layers");

    let r = pack(
        &[
            &image,
            "--platform",
            "linux/arm64",
            "-o",
            out.to_str().unwrap(),
        ],
        &cache,
    );
    assert_eq!(r.status, Some(1));
    assert!(
        r.stderr
            .contains("no linux/arm64 image; its platforms: linux/amd64, linux/riscv64"),
        "{}",
        r.stderr
    );

    // A corrupted cached layer is caught by its digest, and named.
    let mut largest = std::fs::read_dir(cache.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .max_by_key(|p| std::fs::metadata(p).unwrap().len())
        .unwrap();
    let mut data = std::fs::read(&largest).unwrap();
    data.push(0);
    std::fs::write(&largest, &data).unwrap();
    let r = pack(&[&image, "-o", out.to_str().unwrap()], &cache);
    assert_eq!(r.status, Some(1), "{}", r.stderr);
    let hex = largest.file_name().unwrap().to_str().unwrap().to_string();
    assert!(
        r.stderr.contains(&format!("sha256:{hex}")) && r.stderr.contains("digest mismatch"),
        "{}",
        r.stderr
    );
    largest.pop();

    let r = pack(
        &[
            &format!("{}/test/missing:1", reg.addr),
            "-o",
            out.to_str().unwrap(),
        ],
        &cache,
    );
    assert_eq!(r.status, Some(1));
    assert!(r.stderr.contains("not found"), "{}", r.stderr);
}
