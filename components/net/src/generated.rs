//! The wasi:sockets bindings (and, for the net component, the friscy:net/sockets export).

#[cfg(feature = "component")]
wit_bindgen::generate!({ path: "../../wit", world: "friscy:net/net", generate_all });

#[cfg(all(feature = "wasi", not(feature = "component")))]
wit_bindgen::generate!({ path: "../../wit", world: "friscy:net/net-imports", generate_all });
