//! Composition with `wac-graph`, inside friscy-pack: the same graph as
//! compose/friscy-open.wac (kernel on top of exec, vfs and net) and, for `--compose`,
//! compose/friscy-sealed.wac (a rootfs data component and console-wasi plugged in
//! underneath).
//!
//! Each instance's imports are satisfied by the exports of the instances made before it
//! (what `...other` does in a .wac file); whatever is left (`wasi:*`, and for an open
//! component the rootfs, image config and console) becomes an import of the result.

use anyhow::{Context, Result, anyhow};

use crate::datacomp::{IMAGE_INTERFACE, ROOTFS_INTERFACE};
use wac_graph::types::Package;
use wac_graph::{CompositionGraph, EncodeOptions, NodeId, PackageId};

/// The components the graph is made of: the kernel and vfs friscy-pack carries, and the
/// exec component (the interpreter, or `--exec FILE`).
pub struct Parts {
    pub kernel: Vec<u8>,
    pub vfs: Vec<u8>,
    /// IP sockets over wasi:sockets.
    pub net: Vec<u8>,
    pub exec: Vec<u8>,
    /// friscy:tty/console from WASI's terminal facts, for sealed components.
    pub console: Vec<u8>,
    /// The fused kernel (exec, vfs and net linked in), used instead of the four when
    /// present: wasmtime's adapters' list copies between components dominate I/O, which
    /// is 5-9x faster through the fused build. None with `--exec`.
    pub fused: Option<Vec<u8>>,
}

const RUN: &str = "wasi:cli/run@0.2.6";
const CONSOLE_INTERFACE: &str = "friscy:tty/console@0.1.0";

fn rootfs_given(order: &[(&str, Vec<u8>)]) -> bool {
    order.first().is_some_and(|(n, _)| *n == "friscy:rootfs")
}

/// Compose kernel + exec + vfs + net (or the fused kernel alone), plus `rootfs` (a data
/// component) and console-wasi when given. Without it the result is the open component, importing
/// `friscy:vfs/rootfs`, `friscy:vfs/image` and `friscy:tty/console`.
pub fn compose(parts: Parts, rootfs: Option<Vec<u8>>) -> Result<Vec<u8>> {
    let mut g = CompositionGraph::new();
    let mut order: Vec<(&str, Vec<u8>)> = Vec::new();
    if let Some(data) = rootfs {
        order.push(("friscy:rootfs", data));
        order.push(("friscy:console", parts.console));
    }
    match parts.fused {
        Some(fused) => order.push(("friscy:kernel", fused)),
        None => {
            order.push(("friscy:exec", parts.exec));
            order.push(("friscy:vfs", parts.vfs));
            order.push(("friscy:net", parts.net));
            order.push(("friscy:kernel", parts.kernel));
        }
    }

    let sealed = rootfs_given(&order);
    let mut made: Vec<(PackageId, NodeId)> = Vec::new();
    for (name, bytes) in order {
        let package = Package::from_bytes(name, None, bytes, g.types_mut())
            .with_context(|| format!("reading the {name} component"))?;
        let id = g
            .register_package(package)
            .map_err(|e| anyhow!("registering {name}: {e}"))?;
        let instance = g.instantiate(id);
        let imports: Vec<String> = g.types()[g[id].ty()].imports.keys().cloned().collect();
        for import in imports {
            let provider = made.iter().find(|(p, _)| {
                let world = &g.types()[g[*p].ty()];
                world.exports.contains_key(&import)
            });
            let Some(&(_, from)) = provider else {
                // Left for the host: WASI always; the rootfs and its config when open.
                let host_provides = import.starts_with("wasi:")
                    || (!sealed
                        && [ROOTFS_INTERFACE, IMAGE_INTERFACE, CONSOLE_INTERFACE]
                            .contains(&&*import));
                if !host_provides {
                    return Err(anyhow!(
                        "nothing in the composition exports {import}, which {name} imports \
                         (is --exec an exec component?)"
                    ));
                }
                continue;
            };
            {
                let export = g
                    .alias_instance_export(from, &import)
                    .map_err(|e| anyhow!("{name}: {import}: {e}"))?;
                g.set_instantiation_argument(instance, &import, export)
                    .map_err(|e| anyhow!("{name} cannot take {import}: {e}"))?;
            }
        }
        made.push((id, instance));
    }
    let &(kernel, kernel_instance) = made.last().expect("the kernel is always there");
    if !g.types()[g[kernel].ty()].exports.contains_key(RUN) {
        return Err(anyhow!("the kernel component does not export {RUN}"));
    }
    let run = g
        .alias_instance_export(kernel_instance, RUN)
        .map_err(|e| anyhow!("{RUN}: {e}"))?;
    g.export(run, RUN).map_err(|e| anyhow!("{RUN}: {e}"))?;
    g.encode(EncodeOptions::default())
        .map_err(|e| anyhow!("composing: {e}"))
}
