//! Registry pulls over the OCI distribution API (distribution-spec "Pull"): manifests and
//! blobs by digest, anonymous bearer tokens (the registry token protocol Docker Hub uses)
//! or credentials from ~/.docker/config.json, retries with backoff, and a local cache of
//! verified blobs, so a second pack of the same image downloads nothing.

use std::fs::File;
use std::io::{BufWriter, Read, Write};
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use sha2::{Digest as _, Sha256};
use ureq::Agent;
use ureq::http::Response;

use crate::oci::{self, BlobSource, Blobs, Descriptor, Image, Platform};
use crate::progress::Bars;

const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.list.v2+json, \
    application/vnd.docker.distribution.manifest.v2+json";
const MAX_MANIFEST: u64 = 4 << 20;
const ATTEMPTS: u32 = 4;

/// `[registry/]repository[:tag][@digest]`, with Docker's defaults.
#[derive(Debug, PartialEq, Eq)]
pub struct Reference {
    /// The registry as the user wrote it (`docker.io`, `localhost:5000`).
    pub registry: String,
    pub repository: String,
    /// A tag or a digest.
    pub reference: String,
}

impl Reference {
    pub fn parse(s: &str) -> Result<Reference> {
        let bad = || anyhow!("{s}: not an image reference");
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(d)),
            None => (s, None),
        };
        let (registry, path) = match rest.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => ("docker.io".to_string(), rest.to_string()),
        };
        let (path, tag) = match path.rsplit_once(':') {
            Some((p, t)) if !t.contains('/') => (p.to_string(), Some(t.to_string())),
            _ => (path, None),
        };
        let repository = if registry == "docker.io" && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        let ok_repo = !repository.is_empty()
            && repository.split('/').all(|c| {
                !c.is_empty()
                    && c.bytes().all(|b| {
                        b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b)
                    })
            });
        let reference = match (digest, tag) {
            (Some(d), _) => {
                if !d.starts_with("sha256:") || d.len() != 71 {
                    return Err(bad());
                }
                d.to_string()
            }
            (None, Some(t)) => t,
            (None, None) => "latest".to_string(),
        };
        if !ok_repo || reference.is_empty() {
            return Err(bad());
        }
        Ok(Reference {
            registry,
            repository,
            reference,
        })
    }

    /// Where the API is: Docker Hub's API host differs from its name.
    fn base_url(&self, plain_http: bool) -> String {
        let host = if self.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            &self.registry
        };
        let local =
            host.starts_with("localhost") || host.starts_with("127.") || host.starts_with("[::1]");
        let scheme = if plain_http || local { "http" } else { "https" };
        format!("{scheme}://{host}/v2/{}", self.repository)
    }
}

/// Whether an argument that names no file is meant as a registry reference.
pub fn looks_like_reference(s: &str) -> bool {
    // `app.tar` is a valid repository name too, but a missing file is the likelier mistake.
    let file_like = [".tar", ".tgz", ".gz", ".zst"]
        .iter()
        .any(|e| s.ends_with(e));
    !file_like && !s.starts_with('/') && !s.starts_with('.') && Reference::parse(s).is_ok()
}

pub fn pull(reference: &str, want: &Platform, plain_http: bool, bars: &Bars) -> Result<Image> {
    let r = Reference::parse(reference)?;
    let mut client = Client {
        agent: Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(Duration::from_secs(30)))
            .timeout_recv_response(Some(Duration::from_secs(60)))
            .user_agent(concat!("friscy-pack/", env!("CARGO_PKG_VERSION")))
            .build()
            .new_agent(),
        base: r.base_url(plain_http),
        registry: r.registry.clone(),
        repository: r.repository.clone(),
        auth: None,
        cache: cache_dir()?,
        bars,
    };
    let top = client.manifest_bytes(&r.reference)?;
    let digest = oci::sha256(&top);
    if r.reference.starts_with("sha256:") && digest != r.reference {
        bail!("{reference}: manifest digest mismatch: got {digest}");
    }
    oci::resolve(&mut client, &top, &digest, want, reference)
}

struct Client<'a> {
    agent: Agent,
    base: String,
    registry: String,
    repository: String,
    /// The Authorization header value once a challenge has been answered.
    auth: Option<String>,
    cache: PathBuf,
    bars: &'a Bars,
}

impl Client<'_> {
    /// GET with auth, retries (transport errors, 429, 5xx) and exponential backoff.
    fn get(&mut self, url: &str, accept: Option<&str>) -> Result<Response<ureq::Body>> {
        let mut answered = false;
        let mut attempt = 0;
        loop {
            let mut req = self.agent.get(url);
            if let Some(a) = accept {
                req = req.header("Accept", a);
            }
            if let Some(auth) = &self.auth {
                req = req.header("Authorization", auth);
            }
            let retry = match req.call() {
                Ok(resp) if resp.status() == 401 && !answered => {
                    answered = true;
                    let challenge = resp
                        .headers()
                        .get("www-authenticate")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_string();
                    self.auth = Some(self.answer(&challenge)?);
                    continue;
                }
                Ok(resp) if resp.status() == 429 || resp.status().is_server_error() => {
                    format!("HTTP {}", resp.status())
                }
                Ok(resp) => return Ok(resp),
                Err(e) => e.to_string(),
            };
            attempt += 1;
            if attempt >= ATTEMPTS {
                bail!("GET {url}: {retry} (after {ATTEMPTS} attempts)");
            }
            std::thread::sleep(Duration::from_millis(250 << attempt));
        }
    }

    /// Answer a WWW-Authenticate challenge: a bearer token from the realm (anonymous, or
    /// with the user's credentials), or basic auth.
    fn answer(&self, challenge: &str) -> Result<String> {
        let creds = credentials(&self.registry);
        let (scheme, params) = challenge.split_once(' ').unwrap_or((challenge, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return creds
                .map(|c| format!("Basic {c}"))
                .with_context(|| format!("{} needs credentials (docker login)", self.registry));
        }
        if !scheme.eq_ignore_ascii_case("bearer") {
            bail!(
                "{}: unsupported authentication {challenge:?}",
                self.registry
            );
        }
        let param = |key: &str| {
            params.split(',').find_map(|kv| {
                let (k, v) = kv.trim().split_once('=')?;
                (k == key).then(|| v.trim_matches('"').to_string())
            })
        };
        let realm = param("realm").context("bearer challenge without a realm")?;
        let mut url = realm.clone();
        let mut sep = if realm.contains('?') { '&' } else { '?' };
        let scope =
            param("scope").unwrap_or_else(|| format!("repository:{}:pull", self.repository));
        for (k, v) in [("service", param("service")), ("scope", Some(scope))] {
            if let Some(v) = v {
                url.push_str(&format!(
                    "{sep}{k}={}",
                    v.replace(':', "%3A").replace('/', "%2F")
                ));
                sep = '&';
            }
        }
        let mut req = self.agent.get(&url);
        if let Some(c) = &creds {
            req = req.header("Authorization", &format!("Basic {c}"));
        }
        let mut resp = req.call().with_context(|| format!("token from {realm}"))?;
        if resp.status() != 200 {
            bail!(
                "token from {realm}: HTTP {} (wrong credentials in ~/.docker/config.json?)",
                resp.status()
            );
        }
        let body = resp.body_mut().with_config().limit(1 << 20).read_to_vec()?;
        let v: serde_json::Value = oci::parse_json("token response", &body)?;
        let token = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .context("token response without a token")?;
        Ok(format!("Bearer {token}"))
    }

    fn manifest_bytes(&mut self, reference: &str) -> Result<Vec<u8>> {
        let url = format!("{}/manifests/{reference}", self.base);
        let mut resp = self.get(&url, Some(MANIFEST_TYPES))?;
        match resp.status().as_u16() {
            200 => {}
            404 => bail!(
                "{}/{}:{reference}: not found",
                self.registry,
                self.repository
            ),
            401 | 403 => bail!(
                "{}/{}: access denied (HTTP {}; credentials in ~/.docker/config.json?)",
                self.registry,
                self.repository,
                resp.status()
            ),
            s => bail!("GET {url}: HTTP {s}"),
        }
        resp.body_mut()
            .with_config()
            .limit(MAX_MANIFEST)
            .read_to_vec()
            .with_context(|| format!("GET {url}"))
    }

    /// The blob's path in the cache, downloading and verifying it first if needed.
    fn cached_blob(&mut self, digest: &str) -> Result<PathBuf> {
        let hex = digest
            .strip_prefix("sha256:")
            .filter(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()))
            .with_context(|| format!("unsupported or malformed digest {digest:?}"))?;
        let path = self.cache.join(hex);
        if path.is_file() {
            return Ok(path);
        }
        std::fs::create_dir_all(&self.cache)
            .with_context(|| format!("creating {}", self.cache.display()))?;
        let url = format!("{}/blobs/{digest}", self.base);
        let mut last = String::new();
        for attempt in 0..ATTEMPTS {
            if attempt > 0 {
                std::thread::sleep(Duration::from_millis(250 << attempt));
            }
            match self.download(&url, digest, &path) {
                Ok(()) => return Ok(path),
                // A wrong digest will not get better by asking again.
                Err(e) if e.to_string().contains("digest mismatch") => return Err(e),
                Err(e) => last = format!("{e:#}"),
            }
        }
        bail!("{last} (after {ATTEMPTS} attempts)")
    }

    fn download(&mut self, url: &str, digest: &str, path: &PathBuf) -> Result<()> {
        let mut resp = self.get(url, None)?;
        if resp.status() != 200 {
            bail!("GET {url}: HTTP {}", resp.status());
        }
        let total = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.parse().ok())
            .unwrap_or(0);
        let short = &digest[7..19];
        let bar = self.bars.bytes(total, short);
        let mut tmp = tempfile::NamedTempFile::new_in(&self.cache)?;
        let mut hash = Sha256::new();
        {
            let mut w = BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
            let mut r = resp.body_mut().as_reader();
            let mut buf = vec![0; 1 << 16];
            loop {
                let n = r.read(&mut buf).with_context(|| format!("GET {url}"))?;
                if n == 0 {
                    break;
                }
                hash.update(&buf[..n]);
                w.write_all(&buf[..n])?;
                bar.inc(n as u64);
            }
            w.flush()?;
        }
        bar.finish_and_clear();
        let got = format!("sha256:{:x}", hash.finalize());
        if got != digest {
            bail!("blob {digest}: digest mismatch: got {got}");
        }
        tmp.persist(path)
            .map_err(|e| anyhow!("caching {}: {}", path.display(), e.error))?;
        Ok(())
    }
}

impl Blobs for Client<'_> {
    fn manifest(&mut self, digest: &str) -> Result<Vec<u8>> {
        let data = self.manifest_bytes(digest)?;
        oci::verify(&format!("manifest {digest}"), digest, &data)?;
        Ok(data)
    }
    fn blob(&mut self, digest: &str) -> Result<Vec<u8>> {
        let path = self.cached_blob(digest)?;
        let mut data = Vec::new();
        File::open(&path)?.read_to_end(&mut data)?;
        // The cache is trusted only as far as it verifies.
        oci::verify(&format!("blob {digest}"), digest, &data)?;
        Ok(data)
    }
    fn layer(&mut self, desc: &Descriptor) -> Result<BlobSource> {
        Ok(BlobSource::File(self.cached_blob(&desc.digest)?))
    }
}

/// Verified blobs: `$FRISCY_CACHE/blobs`, `$XDG_CACHE_HOME/friscy/blobs` or
/// `~/.cache/friscy/blobs`, named by their sha256.
fn cache_dir() -> Result<PathBuf> {
    let var = |k| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let base = var("FRISCY_CACHE")
        .or_else(|| var("XDG_CACHE_HOME").map(|d| d.join("friscy")))
        .or_else(|| var("HOME").map(|h| h.join(".cache/friscy")))
        .context("no cache directory for blobs (set FRISCY_CACHE or HOME)")?;
    Ok(base.join("blobs/sha256"))
}

/// base64 `user:password` for the registry from the Docker client config, if any.
fn credentials(registry: &str) -> Option<String> {
    let dir = std::env::var_os("DOCKER_CONFIG")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))?;
    let data = std::fs::read(dir.join("config.json")).ok()?;
    let config: serde_json::Value = serde_json::from_slice(&data).ok()?;
    let auths = config.get("auths")?.as_object()?;
    let keys: Vec<String> = if registry == "docker.io" {
        vec![
            "https://index.docker.io/v1/".into(),
            "index.docker.io".into(),
            "docker.io".into(),
        ]
    } else {
        vec![
            registry.into(),
            format!("https://{registry}"),
            format!("http://{registry}"),
        ]
    };
    let entry = keys.iter().find_map(|k| auths.get(k.as_str()))?;
    if let Some(auth) = entry.get("auth").and_then(|a| a.as_str()) {
        return Some(auth.to_string());
    }
    let user = entry.get("username")?.as_str()?;
    let pass = entry.get("password")?.as_str()?;
    Some(base64::engine::general_purpose::STANDARD.encode(format!("{user}:{pass}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(s: &str) -> (String, String, String) {
        let r = Reference::parse(s).unwrap();
        (r.registry, r.repository, r.reference)
    }

    #[test]
    fn references_get_dockers_defaults() {
        let t = |a: &str, b: &str, c: &str| (a.to_string(), b.to_string(), c.to_string());
        assert_eq!(r("alpine"), t("docker.io", "library/alpine", "latest"));
        assert_eq!(
            r("docker.io/library/alpine:3.20"),
            t("docker.io", "library/alpine", "3.20")
        );
        assert_eq!(
            r("localhost:5000/app:tag"),
            t("localhost:5000", "app", "tag")
        );
        assert_eq!(r("ghcr.io/o/r/x"), t("ghcr.io", "o/r/x", "latest"));
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(
            r(&format!("127.0.0.1:5000/app@{d}")),
            t("127.0.0.1:5000", "app", &d)
        );
        assert!(Reference::parse("Alpine").is_err());
        assert!(Reference::parse("app@sha256:abc").is_err());
        assert!(!looks_like_reference("./missing.tar"));
        assert!(!looks_like_reference("missing file"));
        assert!(!looks_like_reference("alpine.tar.gz"));
    }

    #[test]
    fn localhost_registries_speak_plain_http() {
        let r = Reference::parse("127.0.0.1:5000/app").unwrap();
        assert_eq!(r.base_url(false), "http://127.0.0.1:5000/v2/app");
        let hub = Reference::parse("alpine").unwrap();
        assert_eq!(
            hub.base_url(false),
            "https://registry-1.docker.io/v2/library/alpine"
        );
    }
}
