//! Local inputs: a `docker save` tarball (the legacy manifest.json layout, or the OCI
//! layout Docker 25+ writes, which also carries a manifest.json), an OCI image layout as a
//! directory or a tar, and a plain rootfs tar (.tar, .tar.gz, .tar.zst).
//!
//! An outer tar is indexed once (member name to byte range) and its members are read in
//! place; a compressed outer tar is first decompressed into a temporary file.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde::Deserialize;

use crate::decompress;
use crate::oci::{self, BlobSource, Blobs, ConfigFile, Descriptor, Image, Layer, Platform};

/// Files of an image layout: a directory, or members of an uncompressed tar.
enum Store {
    Dir(PathBuf),
    Tar {
        file: PathBuf,
        members: HashMap<String, (u64, u64)>,
    },
}

/// Small metadata files (manifests, configs) are read whole; anything larger is refused.
const MAX_METADATA: u64 = 64 << 20;

/// The file `name` (from the image's own metadata: manifest.json, index.json) inside the
/// layout directory `dir`. Names must be relative and stay inside: no absolute paths, no
/// `..`, and no symlink that leads out (the canonical path must be under the canonical
/// directory), so an image cannot make friscy-pack read and pack host files.
fn confined(dir: &Path, name: &str) -> Result<PathBuf> {
    let rel = Path::new(name);
    let bad = name.is_empty()
        || name.contains('\0')
        || rel.is_absolute()
        || rel.components().any(|c| {
            !matches!(
                c,
                std::path::Component::Normal(_) | std::path::Component::CurDir
            )
        });
    if bad {
        bail!("{name:?} is not a path inside the image layout (absolute, or with ..)");
    }
    let base = dir
        .canonicalize()
        .with_context(|| format!("opening {}", dir.display()))?;
    let full = base.join(rel);
    let real = full
        .canonicalize()
        .with_context(|| format!("{} is missing", full.display()))?;
    if !real.starts_with(&base) {
        bail!(
            "{name:?} leads outside the image layout (a symlink to {})",
            real.display()
        );
    }
    if !real.is_file() {
        bail!("{} is not a file", full.display());
    }
    Ok(real)
}

impl Store {
    fn has(&self, name: &str) -> bool {
        match self {
            Store::Dir(d) => confined(d, name).is_ok(),
            Store::Tar { members, .. } => members.contains_key(name),
        }
    }

    fn source(&self, name: &str) -> Result<BlobSource> {
        match self {
            Store::Dir(d) => Ok(BlobSource::File(confined(d, name)?)),
            Store::Tar { file, members } => {
                let &(offset, len) = members
                    .get(name)
                    .with_context(|| format!("{} has no member {name}", file.display()))?;
                Ok(BlobSource::Range {
                    file: file.clone(),
                    offset,
                    len,
                })
            }
        }
    }

    fn read(&self, name: &str) -> Result<Vec<u8>> {
        let src = self.source(name)?;
        let mut r = open_source(&src)?;
        let mut data = Vec::new();
        r.by_ref()
            .take(MAX_METADATA + 1)
            .read_to_end(&mut data)
            .with_context(|| format!("reading {name}"))?;
        if data.len() as u64 > MAX_METADATA {
            bail!("{name} is larger than {} MiB", MAX_METADATA >> 20);
        }
        Ok(data)
    }
}

/// A reader over a blob's bytes.
pub fn open_source(src: &BlobSource) -> Result<Box<dyn Read>> {
    Ok(match src {
        BlobSource::File(p) => {
            Box::new(File::open(p).with_context(|| format!("opening {}", p.display()))?)
        }
        BlobSource::Range { file, offset, len } => {
            let mut f = File::open(file).with_context(|| format!("opening {}", file.display()))?;
            f.seek(SeekFrom::Start(*offset))?;
            Box::new(f.take(*len))
        }
    })
}

/// `blobs/sha256/<hex>` for a digest, refusing anything that could escape the layout.
fn blob_path(digest: &str) -> Result<String> {
    match digest.split_once(':') {
        Some((alg, hex))
            if !alg.is_empty()
                && !hex.is_empty()
                && alg.bytes().all(|b| b.is_ascii_alphanumeric())
                && hex.bytes().all(|b| b.is_ascii_hexdigit()) =>
        {
            Ok(format!("blobs/{alg}/{hex}"))
        }
        _ => bail!("malformed digest {digest:?}"),
    }
}

impl Blobs for Store {
    fn manifest(&mut self, digest: &str) -> Result<Vec<u8>> {
        self.blob(digest)
    }
    fn blob(&mut self, digest: &str) -> Result<Vec<u8>> {
        let data = self.read(&blob_path(digest)?)?;
        oci::verify(&format!("blob {digest}"), digest, &data)?;
        Ok(data)
    }
    fn layer(&mut self, desc: &Descriptor) -> Result<BlobSource> {
        self.source(&blob_path(&desc.digest)?)
    }
}

/// What a local input turned out to be, and the image it holds.
pub struct Local {
    pub kind: &'static str,
    pub image: Image,
    /// A decompressed copy of the input, kept alive while the image is read.
    pub _temp: Option<tempfile::TempPath>,
}

/// Open a local input. `want` is the platform to pick (plain rootfs tars have none).
pub fn open(path: &Path, want: &Platform) -> Result<Local> {
    let name = path.display().to_string();
    if path.is_dir() {
        let store = Store::Dir(path.to_path_buf());
        let (kind, image) = from_store(store, want, &name)?
            .with_context(|| format!("{name}: a directory with neither index.json (OCI layout) nor manifest.json (docker save)"))?;
        return Ok(Local {
            kind,
            image,
            _temp: None,
        });
    }
    let (tar, temp) = match decompress::detect_file(path)? {
        None => (path.to_path_buf(), None),
        Some(kind) => {
            let t = decompress::to_temp(path, kind)?;
            (t.to_path_buf(), Some(t))
        }
    };
    let members = index_tar(&tar).with_context(|| format!("{name}: not a readable tar archive"))?;
    let store = Store::Tar {
        file: tar.clone(),
        members,
    };
    if let Some((kind, image)) = from_store(store, want, &name)? {
        return Ok(Local {
            kind,
            image,
            _temp: temp,
        });
    }
    // Neither layout: a plain root filesystem, one layer with no config.
    Ok(Local {
        kind: "rootfs tar",
        image: Image {
            layers: vec![Layer {
                label: name,
                source: BlobSource::File(tar),
                digest: None,
            }],
            ..Default::default()
        },
        _temp: temp,
    })
}

fn from_store(
    mut store: Store,
    want: &Platform,
    name: &str,
) -> Result<Option<(&'static str, Image)>> {
    if store.has("index.json") {
        let top = store.read("index.json")?;
        let digest = oci::sha256(&top);
        let mut image = oci::resolve(&mut store, &top, &digest, want, name)?;
        // index.json is not content-addressed; the image is known by what it lists.
        let index: oci::ManifestOrIndex = oci::parse_json("index.json", &top)?;
        if let Some([only]) = index.manifests.as_deref() {
            image.digest = Some(only.digest.clone());
        }
        return Ok(Some(("OCI image layout", image)));
    }
    if store.has("manifest.json") {
        let data = store.read("manifest.json")?;
        // A rootfs can hold a manifest.json of its own: only Docker's shape counts.
        if let Ok(entries) = serde_json::from_slice::<Vec<DockerEntry>>(&data) {
            return docker_legacy(&store, entries, want, name).map(|i| Some(("docker save", i)));
        }
    }
    Ok(None)
}

/// One image of a legacy `docker save` manifest.json.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DockerEntry {
    config: String,
    layers: Vec<String>,
}

#[derive(Deserialize, Default)]
struct DiffIds {
    #[serde(default)]
    rootfs: Option<RootFs>,
}
#[derive(Deserialize, Default)]
struct RootFs {
    #[serde(default)]
    diff_ids: Vec<String>,
}

fn docker_legacy(
    store: &Store,
    entries: Vec<DockerEntry>,
    want: &Platform,
    name: &str,
) -> Result<Image> {
    let mut seen = Vec::new();
    for entry in entries {
        let data = store.read(&entry.config)?;
        verify_config_name(&entry.config, &data)?;
        let config: ConfigFile = oci::parse_json(&entry.config, &data)?;
        let platform = config.platform();
        if !platform.serves(want) {
            seen.push(platform.to_string());
            continue;
        }
        let ids: DiffIds = oci::parse_json(&entry.config, &data)?;
        let diff_ids = ids.rootfs.unwrap_or_default().diff_ids;
        // Every layer is verified: the config must list one diff_id per layer (an empty
        // or short list must not mean "unchecked").
        if diff_ids.len() != entry.layers.len() {
            bail!(
                "{}: the config lists {} diff_ids for {} layers; cannot verify them",
                entry.config,
                diff_ids.len(),
                entry.layers.len()
            );
        }
        let mut layers = Vec::new();
        for (member, diff_id) in entry.layers.iter().zip(diff_ids) {
            // docker save stores layers uncompressed, so a layer's bytes hash to its
            // diff_id; Docker 25+ names them by that digest too.
            layers.push(Layer {
                label: member.clone(),
                source: store.source(member)?,
                digest: Some(diff_id),
            });
        }
        return Ok(Image {
            layers,
            config,
            digest: Some(oci::sha256(&data)),
            platform: Some(platform),
        });
    }
    bail!(
        "{name} has no {want} image; its platforms: {}",
        seen.join(", ")
    )
}

/// A `docker save` config is named by its digest (`<hex>.json` in the legacy layout,
/// `blobs/sha256/<hex>` in Docker 25+'s): check the bytes against it, so the config and
/// through its diff_ids every layer are verified.
fn verify_config_name(name: &str, data: &[u8]) -> Result<()> {
    let base = name.rsplit('/').next().unwrap_or(name);
    let hex = base.strip_suffix(".json").unwrap_or(base);
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        bail!("{name}: a docker save config must be named by its sha256 digest");
    }
    oci::verify(
        &format!("config {name}"),
        &format!("sha256:{}", hex.to_ascii_lowercase()),
        data,
    )
}

/// Member name to (data offset, size) for every regular file of an uncompressed tar.
/// The tar crate's errors quote the field they could not parse, which for a file that is
/// not a tar at all is a screenful of binary: say where it went wrong instead, and keep
/// any quote short and printable.
fn tar_error(e: std::io::Error, entries: usize) -> anyhow::Error {
    if entries == 0 {
        return anyhow::anyhow!("its first header does not parse as a tar header");
    }
    let text: String = e
        .to_string()
        .chars()
        .flat_map(char::escape_debug)
        .take(160)
        .collect();
    anyhow::anyhow!("after {entries} members: {text}")
}

fn index_tar(path: &Path) -> Result<HashMap<String, (u64, u64)>> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let file_len = file.metadata()?.len();
    let mut archive = tar::Archive::new(file);
    let mut members = HashMap::new();
    let mut entries = 0;
    for entry in archive.entries_with_seek()? {
        let entry = entry.map_err(|e| tar_error(e, entries))?;
        entries += 1;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let name = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let name = name.trim_start_matches("./").to_string();
        let (offset, len) = (entry.raw_file_position(), entry.size());
        // Seeking skips member data, so a cut-off archive shows only here.
        if offset.saturating_add(len) > file_len {
            bail!("truncated: {name} runs past the end of the file");
        }
        members.insert(name, (offset, len));
    }
    if entries == 0 {
        bail!("no entries in it (empty, or not a tar)");
    }
    Ok(members)
}
