//! A bundle's manifest.json: the image config `docker run` uses, and where it came from.
//! The same JSON is baked into a composed component as its `friscy:vfs/image` config,
//! which the kernel reads (components/kernel/src/image.rs); docs/PACK.md lists the fields.

use serde::Serialize;

use crate::oci::Image;

#[derive(Debug, Serialize)]
pub struct Manifest {
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub env: Vec<String>,
    pub working_dir: String,
    pub user: String,
    pub exposed_ports: Vec<String>,
    pub image_digest: Option<String>,
    pub platform: Option<String>,
    /// What was packed (a path or a registry reference).
    pub source: String,
}

impl Manifest {
    pub fn new(image: &Image, source: &str) -> Manifest {
        let c = image.config.config.clone().unwrap_or_default();
        Manifest {
            entrypoint: c.entrypoint.unwrap_or_default(),
            cmd: c.cmd.unwrap_or_default(),
            env: c.env.unwrap_or_default(),
            working_dir: c.working_dir.unwrap_or_default(),
            user: c.user.unwrap_or_default(),
            exposed_ports: c.exposed_ports.unwrap_or_default().into_keys().collect(),
            image_digest: image.digest.clone(),
            platform: image.platform.as_ref().map(ToString::to_string),
            source: source.to_string(),
        }
    }

    pub fn to_json(&self) -> Vec<u8> {
        let mut v = serde_json::to_vec_pretty(self).expect("plain data serializes");
        v.push(b'\n');
        v
    }

    /// The config to bake into a component: none for a plain rootfs tar (it has no image
    /// config, so `wasmtime run` without a command stays the usual usage error).
    pub fn config_bytes(&self, kind: &str) -> Vec<u8> {
        if kind == "rootfs tar" {
            Vec::new()
        } else {
            serde_json::to_vec(self).expect("plain data serializes")
        }
    }
}
