//! The relay protocol's frame decoder (components/net/src/relay/frame.rs), which
//! friscy-proxy runs on every message a web page sends: any bytes decode to a frame or an
//! error, never a panic, and a decoded frame encodes to bytes that decode to it again.
#![no_main]

use friscy_net::relay::frame::Frame;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(frame) = Frame::decode(data) {
        let bytes = frame.encode();
        let again = Frame::decode(&bytes).expect("an encoded frame decodes");
        assert_eq!(again, frame);
    }
});
