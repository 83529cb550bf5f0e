//! The parts of the native host that other hosts reuse (the containerd shim in `shim/`):
//! loading a component through the cache of compiled components, and serving a root
//! filesystem directory through the `friscy:vfs/tree` import.

pub mod cache;
pub mod compiled;
pub mod tree;
