//! Broken archives: every truncation point and every single-byte corruption of a small
//! archive gives a `TarError` or a filesystem, never a panic or a hang.

mod common;

use common::*;
use friscy_vfs::{Fs, TarError, Vfs};

fn sample() -> Vec<u8> {
    Archive::new()
        .dir("etc", 0o755)
        .file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n")
        .file(&format!("long/{}", "n".repeat(150)), b"gnu long name")
        .pax(&[("path", b"pax/name"), ("mtime", b"1.5")])
        .file("x", b"pax member")
        .symlink("s", "etc/passwd")
        .finish()
}

#[test]
fn truncated_archives_are_errors() {
    let full = sample();
    assert!(Vfs::new(full.clone()).is_ok());
    // Cut anywhere before the end-of-archive marker: an error naming an offset.
    let end_marker = full.len() - full.iter().rev().take_while(|&&b| b == 0).count();
    let end_marker = end_marker.div_ceil(512) * 512;
    for cut in (0..end_marker)
        .step_by(7)
        .chain([512, 1024, end_marker - 1])
    {
        match Vfs::new(full[..cut].to_vec()) {
            Err(TarError::Truncated { offset }) => assert!(offset <= cut as u64),
            Err(e) => panic!("cut at {cut}: unexpected {e}"),
            Ok(_) => panic!("cut at {cut}: indexed a truncated archive"),
        }
    }
    // One zero block is enough for GNU tar.
    assert!(Vfs::new(full[..end_marker + 512].to_vec()).is_ok());
    assert!(matches!(
        Vfs::new(Vec::new()),
        Err(TarError::Truncated { offset: 0 })
    ));
}

#[test]
fn corrupt_bytes_never_panic() {
    let full = sample();
    for i in 0..full.len().min(4096) {
        for v in [0u8, 0xff, b'7', b'x'] {
            let mut bad = full.clone();
            bad[i] = v;
            if let Ok(mut fs) = Vfs::new(bad) {
                // Whatever indexed must also be readable.
                let root = fs.root();
                for e in fs.readdir(root, 0, 100).unwrap() {
                    if let Ok(node) = fs.lookup(root, &e.name, true) {
                        let _ = fs.read(node, 0, 100);
                    }
                }
            }
        }
    }
}

#[test]
fn specific_errors() {
    let mut bytes = raw_header(b"f", b"", b'0', 3, b"", true).to_vec();
    bytes[0] = b'g'; // checksum no longer matches
    bytes.extend(padded(b"abc"));
    bytes.extend(end_blocks());
    let err = Vfs::new(bytes).err().unwrap();
    assert!(
        matches!(err, TarError::BadChecksum { offset: 0, .. }),
        "{err}"
    );
    assert!(err.to_string().contains("checksum"));

    let mut h = raw_header(b"f", b"", b'0', 0, b"", true);
    h[124..136].copy_from_slice(b"00000000009\0");
    set_checksum(&mut h);
    let mut bytes = h.to_vec();
    bytes.extend(end_blocks());
    let err = Vfs::new(bytes).err().unwrap();
    assert_eq!(
        err,
        TarError::BadNumber {
            offset: 0,
            field: "size"
        }
    );

    let mut bytes = raw_header(b"pax", b"", b'x', 10, b"", true).to_vec();
    bytes.extend(padded(b"99 path=a\n"));
    bytes.extend(raw_header(b"f", b"", b'0', 0, b"", true));
    bytes.extend(end_blocks());
    assert!(matches!(
        Vfs::new(bytes),
        Err(TarError::BadPax { offset: 0, .. })
    ));

    let mut bytes = raw_header(b"sparse", b"", b'S', 0, b"", false).to_vec();
    bytes.extend(end_blocks());
    assert!(matches!(
        Vfs::new(bytes),
        Err(TarError::Unsupported { typeflag: b'S', .. })
    ));

    // A huge size that points past the end of the image.
    let mut h = raw_header(b"f", b"", b'0', 0, b"", true);
    h[124..136].copy_from_slice(b"77777777777\0");
    set_checksum(&mut h);
    let mut bytes = h.to_vec();
    bytes.extend(end_blocks());
    assert!(matches!(
        Vfs::new(bytes),
        Err(TarError::Truncated { offset: 0 })
    ));

    // A long-name header with nothing after it.
    let mut bytes = raw_header(b"././@LongLink", b"", b'L', 5, b"", false).to_vec();
    bytes.extend(padded(b"name\0"));
    bytes.extend(end_blocks());
    assert!(matches!(Vfs::new(bytes), Err(TarError::Truncated { .. })));
}

#[test]
fn random_garbage_is_rejected() {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    for len in [1usize, 511, 512, 1024, 5000] {
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                x as u8
            })
            .collect();
        assert!(Vfs::new(bytes).is_err());
    }
}
