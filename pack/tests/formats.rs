//! friscy-pack on images built here in every local input format, flattened and compared
//! with a reference extraction, composed and run under `wasmtime run`.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use common::*;
use serde_json::json;

/// Alpine plus three layers: hard links, a symlink, owners and modes, a long and a
/// non-UTF-8 name, a device node; then whiteouts (one hiding a hard link's target), an
/// opaque directory, a replaced file.
fn layers(alpine: Vec<u8>) -> Vec<Vec<u8>> {
    let long_dir = format!("app/{}", "d".repeat(120));
    let mut l1 = LayerBuilder::new()
        .dir("app")
        .dir("app/dir")
        .file_owned("app/data.txt", b"layer one data\n", 0o640, 1000)
        .hardlink("app/link", "app/data.txt")
        .file("app/keep.txt", b"kept\n")
        .hardlink("app/keep-link", "app/keep.txt")
        .file("app/dir/a", b"a\n")
        .file("app/dir/b", b"b\n")
        .symlink("app/sym", "data.txt")
        .dir(&long_dir)
        .file(&format!("{long_dir}/{}", "f".repeat(150)), b"long\n")
        .chardev("app/null", 1, 3);
    l1.file_bytes(b"app/caf\xe9", b"latin-1 name\n", 0o600, 65534);
    let l2 = LayerBuilder::new()
        .whiteout("app/data.txt")
        .opaque("app/dir")
        .file("app/dir/c", b"c\n")
        .whiteout("etc/motd")
        .file("etc/hostname", b"packed\n")
        .finish();
    let l3 = LayerBuilder::new()
        .file("app/data.txt", b"new data\n")
        .whiteout("app/sym")
        .finish();
    vec![alpine, l1.finish(), l2, l3]
}

fn run_config() -> serde_json::Value {
    json!({
        "Entrypoint": ["/bin/sh", "-c", "echo \"$GREETING|$(pwd)|$*|$(cat /app/link)\"", "sh"],
        "Cmd": ["c1", "c2"],
        "Env": ["PATH=/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=image"],
        "WorkingDir": "/app/work",
        "ExposedPorts": {"8080/tcp": {}},
    })
}

/// Every input format of the same image, written into `dir`.
struct Formats {
    layers: Vec<Vec<u8>>,
    docker_legacy: PathBuf,
    docker_legacy_gz: PathBuf,
    docker_oci: PathBuf,
    oci_dir: PathBuf,
    oci_tar: PathBuf,
}

fn build_formats(dir: &Path, alpine: Vec<u8>, run: serde_json::Value) -> Formats {
    let layers = layers(alpine);
    let config = config_json("riscv64", run, &layers);

    // docker save, legacy layout: uncompressed <id>/layer.tar and a manifest.json.
    let legacy = dir.join("legacy");
    std::fs::create_dir_all(&legacy).unwrap();
    let cfg_name = format!("{}.json", &sha256(&config)[7..]);
    std::fs::write(legacy.join(&cfg_name), &config).unwrap();
    let mut names = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let name = format!("layer{i}/layer.tar");
        std::fs::create_dir_all(legacy.join(format!("layer{i}"))).unwrap();
        std::fs::write(legacy.join(&name), l).unwrap();
        names.push(name);
    }
    let manifest = json!([{"Config": cfg_name, "RepoTags": ["test/app:latest"], "Layers": names}]);
    std::fs::write(legacy.join("manifest.json"), manifest.to_string()).unwrap();
    let docker_legacy = dir.join("docker-legacy.tar");
    tar_dir(&legacy, &docker_legacy);
    let docker_legacy_gz = dir.join("docker-legacy.tar.gz");
    std::fs::write(
        &docker_legacy_gz,
        gzip(&std::fs::read(&docker_legacy).unwrap()),
    )
    .unwrap();

    // OCI layout: layers gzip, zstd, plain, gzip.
    let mut blobs = BTreeMap::new();
    let (mdig, mbytes) = oci_manifest(&mut blobs, &config, &layers, &["gzip", "zstd", "none"]);
    let index = json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": mdig, "size": mbytes.len(),
        "annotations": {"org.opencontainers.image.ref.name": "latest"}}]});
    let oci_dir = dir.join("oci");
    write_oci_dir(&oci_dir, &blobs, index.to_string().as_bytes());
    let oci_tar = dir.join("oci.tar");
    tar_dir(&oci_dir, &oci_tar);

    // Docker 25+: the OCI layout plus a manifest.json naming blobs.
    let dockeroci = dir.join("dockeroci");
    write_oci_dir(&dockeroci, &blobs, index.to_string().as_bytes());
    let m: serde_json::Value = serde_json::from_slice(&mbytes).unwrap();
    let layer_names: Vec<String> = m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| format!("blobs/sha256/{}", &d["digest"].as_str().unwrap()[7..]))
        .collect();
    let cfg = format!(
        "blobs/sha256/{}",
        &m["config"]["digest"].as_str().unwrap()[7..]
    );
    let manifest = json!([{"Config": cfg, "RepoTags": ["test/app:latest"], "Layers": layer_names}]);
    std::fs::write(dockeroci.join("manifest.json"), manifest.to_string()).unwrap();
    let docker_oci = dir.join("docker-oci.tar");
    tar_dir(&dockeroci, &docker_oci);

    Formats {
        layers,
        docker_legacy,
        docker_legacy_gz,
        docker_oci,
        oci_dir,
        oci_tar,
    }
}

#[test]
fn every_format_flattens_to_what_extracting_the_layers_gives() {
    let Some(alpine) = alpine() else { return };
    let tmp = temp_dir("formats");
    let f = build_formats(tmp.path(), alpine, run_config());
    let mut tars = Vec::new();
    for (name, input) in [
        ("docker-legacy", &f.docker_legacy),
        ("docker-legacy-gz", &f.docker_legacy_gz),
        ("docker-oci", &f.docker_oci),
        ("oci-dir", &f.oci_dir),
        ("oci-tar", &f.oci_tar),
    ] {
        let out = tmp.path().join(format!("bundle-{name}"));
        let r = pack(
            &[input.to_str().unwrap(), "-o", out.to_str().unwrap()],
            tmp.path(),
        );
        assert_eq!(r.status, Some(0), "{name}: {}", r.stderr);
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(out.join("manifest.json")).unwrap()).unwrap();
        assert_eq!(manifest["cmd"], json!(["c1", "c2"]), "{name}");
        assert_eq!(manifest["working_dir"], "/app/work", "{name}");
        assert_eq!(manifest["exposed_ports"], json!(["8080/tcp"]), "{name}");
        assert_eq!(manifest["platform"], "linux/riscv64", "{name}");
        assert!(out.join("friscy.wasm").is_file(), "{name}");
        tars.push((name, std::fs::read(out.join("rootfs.tar")).unwrap()));
    }
    // All formats carry the same layers, so they flatten to the same bytes.
    for (name, t) in &tars[1..] {
        assert!(
            t == &tars[0].1,
            "{name} flattened differently from {}",
            tars[0].0
        );
    }
    let ours = tmp.path().join("ours");
    extract(&tmp.path().join("bundle-oci-tar/rootfs.tar"), &ours);
    let reference = tmp.path().join("reference");
    reference_extract(&f.layers, &reference);
    let (a, b) = (describe(&ours), describe(&reference));
    for (path, want) in &b {
        assert_eq!(a.get(path), Some(want), "{}", String::from_utf8_lossy(path));
    }
    assert_eq!(
        a.len(),
        b.len(),
        "extra paths: {:?}",
        a.keys()
            .filter(|k| !b.contains_key(*k))
            .map(|k| String::from_utf8_lossy(k))
            .collect::<Vec<_>>()
    );
    // The cases the layers were built to exercise, spelled out.
    let get = |p: &str| a.get(p.as_bytes()).cloned().unwrap_or_default();
    assert!(get("app/link").contains(&sha256(b"layer one data\n")));
    assert!(get("app/data.txt").contains(&sha256(b"new data\n")));
    assert!(get("app/keep.txt").contains("links [app/keep-link,app/keep.txt]"));
    assert!(!a.contains_key(b"app/dir/a".as_slice()) && a.contains_key(b"app/dir/c".as_slice()));
    assert!(!a.contains_key(b"etc/motd".as_slice()) && !a.contains_key(b"app/sym".as_slice()));
    assert!(a.contains_key(b"app/caf\xe9".as_slice()));
    assert!(get("app/null").contains("rdev 259"), "{}", get("app/null"));
}

#[test]
fn composed_image_runs_its_entrypoint_like_docker_run() {
    let Some(alpine) = alpine() else { return };
    let tmp = temp_dir("compose");
    let f = build_formats(tmp.path(), alpine, run_config());
    let app = tmp.path().join("app.wasm");
    let r = pack(
        &[
            f.oci_tar.to_str().unwrap(),
            "--compose",
            "-o",
            app.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    let r = wasmtime(&app, &[], &[]);
    assert_eq!(
        r.stdout, "image|/app/work|c1 c2|layer one data\n",
        "{}",
        r.stderr
    );
    // Arguments replace the cmd; the entrypoint stays.
    let r = wasmtime(&app, &[], &["x", "y"]);
    assert_eq!(
        r.stdout, "image|/app/work|x y|layer one data\n",
        "{}",
        r.stderr
    );
    // wasmtime --env wins over the image's env.
    let r = wasmtime(&app, &["GREETING=cli"], &[]);
    assert_eq!(
        r.stdout, "cli|/app/work|c1 c2|layer one data\n",
        "{}",
        r.stderr
    );
    assert_eq!(r.status, Some(0));
}

#[test]
fn plain_rootfs_tars_pack_in_every_compression() {
    let Some(alpine) = alpine() else { return };
    let tmp = temp_dir("plain");
    for (name, data) in [
        ("a.tar", alpine.clone()),
        ("a.tar.gz", gzip(&alpine)),
        ("a.tar.zst", zstd(&alpine)),
    ] {
        let input = tmp.path().join(name);
        std::fs::write(&input, data).unwrap();
        let app = tmp.path().join(format!("{name}.wasm"));
        let r = pack(
            &[
                input.to_str().unwrap(),
                "--compose",
                "-o",
                app.to_str().unwrap(),
            ],
            tmp.path(),
        );
        assert_eq!(r.status, Some(0), "{name}: {}", r.stderr);
        let r = wasmtime(&app, &[], &["/bin/busybox", "cat", "/etc/alpine-release"]);
        assert_eq!(r.stdout, "3.20.3\n", "{name}: {}", r.stderr);
        // No image config: no command is the usual usage error.
        let r = wasmtime(&app, &[], &[]);
        assert_eq!(r.status, Some(2), "{name}");
        assert!(r.stderr.contains("no command given"), "{}", r.stderr);
    }
}

fn one_line_error(r: &Run, what: &str) {
    assert_eq!(r.status, Some(1), "{what}: {}", r.stderr);
    assert!(!r.stderr.contains("panicked"), "{what}: {}", r.stderr);
    assert_eq!(
        r.stderr.trim_end().lines().count(),
        1,
        "{what}: {}",
        r.stderr
    );
    assert!(
        r.stderr.starts_with("friscy-pack: "),
        "{what}: {}",
        r.stderr
    );
}

#[test]
fn bad_inputs_give_one_clear_line_and_fail() {
    let Some(alpine) = alpine() else { return };
    let tmp = temp_dir("errors");
    let f = build_formats(tmp.path(), alpine, run_config());
    let out = tmp.path().join("out");
    let o = out.to_str().unwrap();

    let r = pack(
        &[
            f.oci_dir.to_str().unwrap(),
            "--platform",
            "linux/amd64",
            "-o",
            o,
        ],
        tmp.path(),
    );
    one_line_error(&r, "platform");
    assert!(
        r.stderr
            .contains("no linux/amd64 image; its platforms: linux/riscv64"),
        "{}",
        r.stderr
    );

    // A byte changed inside the uncompressed layer: the tar still parses, the digest not.
    let plain = f.layers[2].clone();
    let digest = sha256(&plain);
    let blob = f.oci_dir.join("blobs/sha256").join(&digest[7..]);
    let mut data = std::fs::read(&blob).unwrap();
    let at = data.windows(7).position(|w| w == b"packed\n").unwrap();
    data[at] = b'P';
    std::fs::write(&blob, &data).unwrap();
    let r = pack(&[f.oci_dir.to_str().unwrap(), "-o", o], tmp.path());
    one_line_error(&r, "digest");
    assert!(
        r.stderr
            .contains(&format!("layer {digest}: digest mismatch")),
        "{}",
        r.stderr
    );

    let full = std::fs::read(&f.docker_legacy).unwrap();
    let cut = tmp.path().join("cut.tar");
    std::fs::write(&cut, &full[..full.len() * 6 / 10]).unwrap();
    let r = pack(&[cut.to_str().unwrap(), "-o", o], tmp.path());
    one_line_error(&r, "truncated");
    assert!(r.stderr.contains("truncated"), "{}", r.stderr);

    let gz = std::fs::read(&f.docker_legacy_gz).unwrap();
    let cut = tmp.path().join("cut.tar.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let r = pack(&[cut.to_str().unwrap(), "-o", o], tmp.path());
    one_line_error(&r, "truncated gzip");

    let junk = tmp.path().join("junk.bin");
    std::fs::write(&junk, vec![0x5a; 3000]).unwrap();
    one_line_error(
        &pack(&[junk.to_str().unwrap(), "-o", o], tmp.path()),
        "junk",
    );
    let r = pack(&["nope.tar", "-o", o], tmp.path());
    one_line_error(&r, "missing");
    assert!(r.stderr.contains("no such file"), "{}", r.stderr);
}

#[test]
fn an_image_without_entrypoint_or_cmd_says_so_when_run_bare() {
    let Some(alpine) = alpine() else { return };
    let tmp = temp_dir("nocmd");
    let f = build_formats(tmp.path(), alpine, json!({"Env": ["A=1"]}));
    let app = tmp.path().join("app.wasm");
    let r = pack(
        &[
            f.docker_legacy.to_str().unwrap(),
            "--compose",
            "-o",
            app.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    let r = wasmtime(&app, &[], &[]);
    assert_eq!(r.status, Some(125));
    assert!(
        r.stderr.contains("neither an entrypoint nor a cmd"),
        "{}",
        r.stderr
    );
    let r = wasmtime(&app, &[], &["/bin/sh", "-c", "echo $A"]);
    assert_eq!(r.stdout, "1\n", "{}", r.stderr);
}

#[test]
fn debian_with_whiteouts_round_trips_and_runs() {
    let Some(debian) = debian() else { return };
    let tmp = temp_dir("debian");
    let top = LayerBuilder::new()
        .dir("app")
        .file("app/hello.txt", b"hello from a layer\n")
        .whiteout("usr/share/doc")
        .opaque("etc/apt")
        .finish();
    let layers = vec![debian, top];
    let config = config_json(
        "riscv64",
        json!({"Cmd": ["/bin/cat", "/app/hello.txt"]}),
        &layers,
    );
    let mut blobs = BTreeMap::new();
    let (mdig, m) = oci_manifest(&mut blobs, &config, &layers, &["zstd", "gzip"]);
    let index = json!({"schemaVersion": 2, "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": mdig, "size": m.len()}]});
    let oci = tmp.path().join("oci");
    write_oci_dir(&oci, &blobs, index.to_string().as_bytes());
    let out = tmp.path().join("bundle");
    let r = pack(
        &[oci.to_str().unwrap(), "-o", out.to_str().unwrap()],
        tmp.path(),
    );
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    let ours = tmp.path().join("ours");
    extract(&out.join("rootfs.tar"), &ours);
    let reference = tmp.path().join("reference");
    reference_extract(&layers, &reference);
    assert!(
        describe(&ours) == describe(&reference),
        "Debian flattened differently from the reference extraction"
    );

    let app = tmp.path().join("app.wasm");
    let r = pack(
        &[
            oci.to_str().unwrap(),
            "--compose",
            "-o",
            app.to_str().unwrap(),
        ],
        tmp.path(),
    );
    assert_eq!(r.status, Some(0), "{}", r.stderr);
    let r = wasmtime(&app, &[], &[]);
    assert_eq!(r.stdout, "hello from a layer\n", "{}", r.stderr);
    let r = wasmtime(
        &app,
        &[],
        &[
            "/bin/sh",
            "-c",
            "test -e /usr/share/doc || echo doc gone; ls /etc/apt | wc -l",
        ],
    );
    assert_eq!(r.stdout, "doc gone\n0\n", "{}", r.stderr);
}

/// A legacy `docker save` directory with one small layer, its manifest.json naming
/// `config` and `layers` as given.
fn docker_dir(dir: &Path, config: &[u8], config_name: &str, layer_names: &[&str]) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join(config_name), config).unwrap();
    let manifest = json!([{"Config": config_name, "RepoTags": ["t:1"], "Layers": layer_names}]);
    std::fs::write(dir.join("manifest.json"), manifest.to_string()).unwrap();
}

#[test]
fn a_directory_input_cannot_reach_outside_itself() {
    // Issue 18: a `docker save` directory whose manifest.json names host files packed
    // them into the output. Absolute paths, `..` and symlinks out are refused.
    let tmp = temp_dir("escape");
    let secret = tmp.path().join("secret.tar");
    let layer = LayerBuilder::new()
        .file("etc/hostname", b"packed\n")
        .finish();
    std::fs::write(&secret, &layer).unwrap();
    let config = config_json("riscv64", run_config(), std::slice::from_ref(&layer));
    let cfg = format!("{}.json", &sha256(&config)[7..]);
    let out = tmp.path().join("out");
    let secret_abs = secret.to_str().unwrap().to_string();
    for (case, layers) in [
        ("absolute", vec![secret_abs.as_str()]),
        ("dotdot", vec!["../secret.tar"]),
        ("symlink", vec!["link.tar"]),
    ] {
        let d = tmp.path().join(case);
        docker_dir(&d, &config, &cfg, &layers);
        std::os::unix::fs::symlink(&secret, d.join("link.tar")).unwrap();
        let r = pack(
            &[d.to_str().unwrap(), "-o", out.to_str().unwrap()],
            tmp.path(),
        );
        one_line_error(&r, case);
        assert!(
            r.stderr.contains("not a path inside the image layout")
                || r.stderr.contains("leads outside the image layout"),
            "{case}: {}",
            r.stderr
        );
        assert!(!out.join("rootfs.tar").exists(), "{case}");
    }
    // The same layer inside the directory is fine.
    let d = tmp.path().join("inside");
    docker_dir(&d, &config, &cfg, &["layer.tar"]);
    std::fs::write(d.join("layer.tar"), &layer).unwrap();
    let r = pack(
        &[d.to_str().unwrap(), "-o", out.to_str().unwrap()],
        tmp.path(),
    );
    assert_eq!(r.status, Some(0), "{}", r.stderr);
}

#[test]
fn docker_save_digests_are_always_verified() {
    let tmp = temp_dir("diffids");
    let layer = LayerBuilder::new()
        .file("etc/hostname", b"packed\n")
        .finish();
    let out = tmp.path().join("out");
    // No diff_ids: before, the layers were simply not checked.
    let config = config_json("riscv64", run_config(), &[]);
    let d = tmp.path().join("empty");
    docker_dir(
        &d,
        &config,
        &format!("{}.json", &sha256(&config)[7..]),
        &["layer.tar"],
    );
    std::fs::write(d.join("layer.tar"), &layer).unwrap();
    let r = pack(
        &[d.to_str().unwrap(), "-o", out.to_str().unwrap()],
        tmp.path(),
    );
    one_line_error(&r, "no diff_ids");
    assert!(r.stderr.contains("0 diff_ids for 1 layers"), "{}", r.stderr);
    // A config whose name is not its digest.
    let config = config_json("riscv64", run_config(), std::slice::from_ref(&layer));
    let d = tmp.path().join("renamed");
    docker_dir(
        &d,
        &config,
        &format!("{}.json", "ab".repeat(32)),
        &["layer.tar"],
    );
    std::fs::write(d.join("layer.tar"), &layer).unwrap();
    let r = pack(
        &[d.to_str().unwrap(), "-o", out.to_str().unwrap()],
        tmp.path(),
    );
    one_line_error(&r, "config digest");
    assert!(r.stderr.contains("digest mismatch"), "{}", r.stderr);
}

#[test]
fn untrusted_bytes_in_errors_are_escaped() {
    let tmp = temp_dir("escapes");
    let layer = LayerBuilder::new().file("etc/hostname", b"x").finish();
    let config = config_json("riscv64", run_config(), std::slice::from_ref(&layer));
    let d = tmp.path().join("d");
    // A layer name that would clear the screen and retitle the terminal.
    let evil = "\u{1b}]0;pwned\u{7}\u{1b}[2Jlayer.tar";
    docker_dir(
        &d,
        &config,
        &format!("{}.json", &sha256(&config)[7..]),
        &[evil],
    );
    let out = tmp.path().join("out");
    let r = pack(
        &[d.to_str().unwrap(), "-o", out.to_str().unwrap()],
        tmp.path(),
    );
    one_line_error(&r, "escape");
    assert!(
        !r.stderr.contains('\u{1b}') && !r.stderr.contains('\u{7}'),
        "{:?}",
        r.stderr
    );
    assert!(r.stderr.contains("\\x1b"), "{:?}", r.stderr);
}

/// `friscy run` asks the library whether a tar is a root filesystem or an image archive:
/// every image format must be taken for an image, the Alpine rootfs for a rootfs.
#[test]
fn image_archives_are_told_from_root_filesystems() {
    let Some(alpine) = alpine() else { return };
    let tmp = temp_dir("classify");
    let rootfs = tmp.path().join("alpine.tar");
    std::fs::write(&rootfs, &alpine).unwrap();
    let f = build_formats(tmp.path(), alpine, run_config());
    let want = friscy_pack::Platform::parse("linux/riscv64").unwrap();
    assert!(friscy_pack::is_plain_rootfs(&rootfs, &want).unwrap());
    for image in [&f.docker_legacy, &f.docker_oci, &f.oci_tar] {
        assert!(
            !friscy_pack::is_plain_rootfs(image, &want).unwrap(),
            "{}",
            image.display()
        );
    }
    // An image for another platform is an error to report, not a rootfs to run.
    let amd64 = friscy_pack::Platform::parse("linux/amd64").unwrap();
    let err = friscy_pack::is_plain_rootfs(&f.docker_legacy, &amd64).unwrap_err();
    assert!(
        format!("{err:#}").contains("no linux/amd64 image"),
        "{err:#}"
    );
}
