//! Any byte string given to the decoder must produce an image (or a clip's
//! frames) or an error, never a panic, a hang or an allocation above the
//! documented limits. Clip files (magic `LIVV`) go through the clip decoder,
//! VQ files (format version 3, kind VQ) through the VQ decoder.
//! Run: `scripts/fuzz.sh decode SECONDS` (see the README's "Fuzzing").
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

fn codec() -> &'static livc::codec::Codec {
    static CODEC: OnceLock<livc::codec::Codec> = OnceLock::new();
    CODEC.get_or_init(|| {
        let package = livc::model::embedded::packages().unwrap().into_iter().next().expect("an embedded model");
        let temporal = livc::model::embedded::temporal_for(&package).unwrap();
        let codec = livc::codec::Codec::new(package, livc::Backend::Cpu).unwrap();
        match temporal {
            Some(t) => codec.with_temporal(t).unwrap(),
            None => codec,
        }
    })
}

fn vq_codec() -> Option<&'static livc::codec::VqCodec> {
    static CODEC: OnceLock<Option<livc::codec::VqCodec>> = OnceLock::new();
    CODEC
        .get_or_init(|| {
            let vq = livc::model::embedded::vq_packages().unwrap().into_iter().next()?;
            let base = livc::model::embedded::base_of(&vq).unwrap();
            Some(livc::codec::VqCodec::new(vq, &base, livc::Backend::Cpu).unwrap())
        })
        .as_ref()
}

/// Decodes `file` unless its (valid) header asks for more than 2^18 pixels:
/// those are legitimate work (seconds of synthesis each), not bugs, and
/// would only slow the fuzzer down. Their headers are still parsed.
fn decode(file: &[u8]) {
    match livc::codec::read_header(file) {
        Ok(h) if h.width as u64 * h.height as u64 > 1 << 18 => {}
        Ok(h) if h.kind == livc::bitstream::Kind::Vq => {
            if let Some(vq) = vq_codec() {
                let _ = vq.decode_picture(file, false);
            }
        }
        _ => {
            let _ = codec().decode_picture(file, false);
        }
    }
}

/// Decodes a clip's frames until the first error, unless its valid header
/// asks for frames above 2^16 pixels (legitimate work, as for images).
fn decode_clip(file: &[u8]) {
    use livc::bitstream::clip::ClipReader;
    let Ok((header, mut records)) = ClipReader::open(file) else { return };
    if header.width as u64 * header.height as u64 > 1 << 16 {
        return;
    }
    let Ok(mut decoder) = livc::codec::video::VideoDecoder::new(codec(), header) else { return };
    while let Ok(Some(record)) = records.next_frame() {
        if decoder.decode_frame(&record).is_err() {
            break;
        }
    }
}

/// The clip with every CRC (header, records, end) recomputed where the
/// structure can be followed, so the fuzzer reaches the frames' parsing.
fn repair_clip(data: &[u8]) -> Vec<u8> {
    let mut b = data.to_vec();
    if b.len() < 7 {
        return b;
    }
    let header_end = 7 + b[6] as usize + 16 + 24 + 1 + 4 + 2;
    if b.len() < header_end + 4 {
        return b;
    }
    let crc = crc32fast::hash(&b[..header_end]);
    b[header_end..header_end + 4].copy_from_slice(&crc.to_le_bytes());
    let mut at = header_end + 4;
    while at + 5 <= b.len() {
        let body = if b[at] == b'E' { 5 } else { 5 + u32::from_le_bytes(b[at + 1..at + 5].try_into().unwrap()) as usize };
        if at + body + 4 > b.len() {
            break;
        }
        let crc = crc32fast::hash(&b[at..at + body]);
        b[at + body..at + body + 4].copy_from_slice(&crc.to_le_bytes());
        at += body + 4;
    }
    b
}

fuzz_target!(|data: &[u8]| {
    if data.starts_with(livc::bitstream::clip::CLIP_MAGIC) {
        decode_clip(data);
        decode_clip(&repair_clip(data));
        return;
    }
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
