//! OCI image-spec types (manifest, index, config) and what every input format shares:
//! resolving an index to one platform's manifest, and the `Image` that flattening takes.
//! Docker's media types are accepted wherever the OCI ones are (they have the same shape).

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

/// Where a layer's bytes are: a whole file, or a byte range of one (a member of an
/// uncompressed outer tar, read in place).
#[derive(Clone, Debug)]
pub enum BlobSource {
    File(PathBuf),
    Range {
        file: PathBuf,
        offset: u64,
        len: u64,
    },
}

/// One layer, bottom first in `Image::layers`.
#[derive(Clone, Debug)]
pub struct Layer {
    /// What the user would recognise in a message (a digest or a member name).
    pub label: String,
    pub source: BlobSource,
    /// `sha256:...` of the bytes as stored (compressed or not), verified while reading.
    pub digest: Option<String>,
}

/// An image ready to flatten: its layers and the config `docker run` would use.
#[derive(Debug, Default)]
pub struct Image {
    pub layers: Vec<Layer>,
    pub config: ConfigFile,
    /// The digest the image is known by (its manifest, index, or config), if any.
    pub digest: Option<String>,
    pub platform: Option<Platform>,
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq, Eq)]
pub struct Platform {
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub variant: Option<String>,
}

impl Platform {
    /// `os/arch[/variant]`, as --platform takes it.
    pub fn parse(s: &str) -> Result<Platform> {
        let parts: Vec<&str> = s.split('/').collect();
        match parts[..] {
            [os, arch] if !os.is_empty() && !arch.is_empty() => Ok(Platform {
                os: os.into(),
                architecture: arch.into(),
                variant: None,
            }),
            [os, arch, v] if !os.is_empty() && !arch.is_empty() && !v.is_empty() => Ok(Platform {
                os: os.into(),
                architecture: arch.into(),
                variant: Some(v.into()),
            }),
            _ => bail!("--platform {s}: expected OS/ARCH or OS/ARCH/VARIANT"),
        }
    }

    /// Whether this (an image's platform) serves `want`; a variant is compared only
    /// when `want` names one.
    pub fn serves(&self, want: &Platform) -> bool {
        self.os == want.os
            && self.architecture == want.architecture
            && (want.variant.is_none() || self.variant == want.variant)
    }
}

impl std::fmt::Display for Platform {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Descriptor {
    pub digest: String,
    #[serde(default)]
    pub platform: Option<Platform>,
}

/// An image manifest or an index (told apart by which list is present).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestOrIndex {
    #[serde(default)]
    pub config: Option<Descriptor>,
    #[serde(default)]
    pub layers: Option<Vec<Descriptor>>,
    #[serde(default)]
    pub manifests: Option<Vec<Descriptor>>,
}

/// The image config file (OCI image-spec config.md); only what friscy uses.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct ConfigFile {
    #[serde(default)]
    pub architecture: String,
    #[serde(default)]
    pub os: String,
    #[serde(default)]
    pub variant: Option<String>,
    #[serde(default)]
    pub config: Option<RunConfig>,
}

impl ConfigFile {
    pub fn platform(&self) -> Platform {
        Platform {
            os: self.os.clone(),
            architecture: self.architecture.clone(),
            variant: self.variant.clone(),
        }
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RunConfig {
    #[serde(default)]
    pub entrypoint: Option<Vec<String>>,
    #[serde(default)]
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub env: Option<Vec<String>>,
    #[serde(default)]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
}

/// `sha256:<hex>` of `data`.
pub fn sha256(data: &[u8]) -> String {
    format!("sha256:{:x}", Sha256::digest(data))
}

/// Check `data` against `digest` (only sha256 is supported, like Docker).
pub fn verify(what: &str, digest: &str, data: &[u8]) -> Result<()> {
    if !digest.starts_with("sha256:") {
        bail!("{what}: unsupported digest algorithm in {digest}");
    }
    let got = sha256(data);
    if got != digest {
        bail!("{what}: digest mismatch: expected {digest}, got {got}");
    }
    Ok(())
}

/// Where manifests, configs and layers come from (an OCI layout or a registry).
pub trait Blobs {
    /// A manifest or index by digest, verified.
    fn manifest(&mut self, digest: &str) -> Result<Vec<u8>>;
    /// A small blob (a config) by digest, verified.
    fn blob(&mut self, digest: &str) -> Result<Vec<u8>>;
    /// A layer blob: where to read it (verified while it is read).
    fn layer(&mut self, desc: &Descriptor) -> Result<BlobSource>;
}

pub fn parse_json<T: for<'a> Deserialize<'a>>(what: &str, data: &[u8]) -> Result<T> {
    serde_json::from_slice(data).with_context(|| format!("{what} is not valid JSON"))
}

/// From a manifest or index (`top`, with digest `top_digest`) to the image for `want`:
/// indexes are searched (nested ones too) for a manifest of that platform.
pub fn resolve(
    blobs: &mut dyn Blobs,
    top: &[u8],
    top_digest: &str,
    want: &Platform,
    name: &str,
) -> Result<Image> {
    let doc: ManifestOrIndex = parse_json(&format!("{name}: manifest {top_digest}"), top)?;
    let mut seen = Vec::new();
    let (manifest, config) =
        find(blobs, doc, top_digest, want, &mut seen, 0)?.ok_or_else(|| {
            let list = if seen.is_empty() {
                "none".to_string()
            } else {
                seen.join(", ")
            };
            anyhow::anyhow!("{name} has no {want} image; its platforms: {list}")
        })?;
    let mut layers = Vec::new();
    for desc in manifest.layers.unwrap_or_default() {
        let source = blobs.layer(&desc)?;
        layers.push(Layer {
            label: desc.digest.clone(),
            source,
            digest: Some(desc.digest.clone()),
        });
    }
    let platform = Some(config.platform());
    Ok(Image {
        layers,
        config,
        digest: Some(top_digest.to_string()),
        platform,
    })
}

type Found = (ManifestOrIndex, ConfigFile);

fn find(
    blobs: &mut dyn Blobs,
    doc: ManifestOrIndex,
    digest: &str,
    want: &Platform,
    seen: &mut Vec<String>,
    depth: u32,
) -> Result<Option<Found>> {
    if depth > 4 {
        bail!("indexes nested more than 4 deep at {digest}");
    }
    if let Some(manifests) = doc.manifests {
        for desc in manifests {
            if let Some(p) = &desc.platform {
                // Attestations (buildx) are listed as unknown/unknown.
                if p.os == "unknown" {
                    continue;
                }
                if !p.serves(want) {
                    seen.push(p.to_string());
                    continue;
                }
            }
            let data = blobs.manifest(&desc.digest)?;
            let inner: ManifestOrIndex = parse_json(&format!("manifest {}", desc.digest), &data)?;
            if let Some(found) = find(blobs, inner, &desc.digest, want, seen, depth + 1)? {
                return Ok(Some(found));
            }
        }
        return Ok(None);
    }
    let Some(config_desc) = &doc.config else {
        bail!("manifest {digest} has neither layers and config nor manifests");
    };
    let data = blobs.blob(&config_desc.digest)?;
    let config: ConfigFile = parse_json(&format!("config {}", config_desc.digest), &data)?;
    let platform = config.platform();
    if !platform.serves(want) {
        seen.push(platform.to_string());
        return Ok(None);
    }
    Ok(Some((doc, config)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn platforms_parse_and_match() {
        let want = Platform::parse("linux/riscv64").unwrap();
        assert_eq!(want.to_string(), "linux/riscv64");
        let arm = Platform::parse("linux/arm/v7").unwrap();
        assert!(!arm.serves(&want));
        assert!(arm.serves(&Platform::parse("linux/arm").unwrap()));
        assert!(!arm.serves(&Platform::parse("linux/arm/v6").unwrap()));
        assert!(Platform::parse("linux").is_err());
        assert!(Platform::parse("linux//v7").is_err());
    }

    #[test]
    fn a_digest_mismatch_names_both_digests() {
        let good = sha256(b"abc");
        verify("blob", &good, b"abc").unwrap();
        let err = verify("blob x", &good, b"abd").unwrap_err().to_string();
        assert!(
            err.contains("blob x: digest mismatch") && err.contains(&good),
            "{err}"
        );
    }
}
