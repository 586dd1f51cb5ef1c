//! Any byte string given to the decoder must produce an image or an error,
//! never a panic, a hang or an allocation above the documented limits.
//! Run: `scripts/fuzz.sh decode SECONDS` (see the README's "Fuzzing").
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

/// Decodes `file` unless its (valid) header asks for more than 2^18 pixels:
/// those are legitimate work (seconds of synthesis each), not bugs, and
/// would only slow the fuzzer down. Their headers are still parsed.
fn decode(file: &[u8]) {
    match livc::codec::read_header(file) {
        Ok(h) if h.width as u64 * h.height as u64 > 1 << 18 => {}
        _ => {
            let _ = codec().decode_picture(file, false);
        }
    }
}

fuzz_target!(|data: &[u8]| {
    // As given (mostly stopped by the CRC), and with the CRC made valid so
    // that the fuzzer reaches the header, lane table and rANS parsing.
    decode(data);
    if data.len() > 4 {
        let mut fixed = data.to_vec();
        let crc = crc32fast::hash(&fixed[..data.len() - 4]);
        let at = fixed.len() - 4;
        fixed[at..].copy_from_slice(&crc.to_le_bytes());
        decode(&fixed);
    }
});
