//! Any byte string given to the decoder must produce an image or an error,
//! never a panic, a hang or a huge allocation.
//! Run: `cargo +nightly fuzz run decode` (from the repository root).
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn codec() -> &'static livc::codec::Codec {
    static CODEC: OnceLock<livc::codec::Codec> = OnceLock::new();
    CODEC.get_or_init(|| {
        let package = livc::model::embedded::packages().unwrap().into_iter().next().expect("an embedded model");
        livc::codec::Codec::new(package, livc::Backend::Cpu).unwrap()
    })
}

fuzz_target!(|data: &[u8]| {
    // As given (mostly stopped by the CRC), and with the CRC made valid so
    // that the fuzzer reaches the header, lane table and rANS parsing.
    let _ = codec().decode_image(data, false);
    if data.len() > 4 {
        let mut fixed = data.to_vec();
        let crc = crc32fast::hash(&fixed[..data.len() - 4]);
        let at = fixed.len() - 4;
        fixed[at..].copy_from_slice(&crc.to_le_bytes());
        let _ = codec().decode_image(&fixed, false);
    }
});
