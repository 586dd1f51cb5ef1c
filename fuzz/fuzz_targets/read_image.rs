//! Any byte string given as an input image (PNG, JPEG, WebP, TIFF, BMP, PNM)
//! must give a picture or an error, never a panic, a hang or an allocation
//! above the documented limits (sizes are checked from the header).
//! Run: `scripts/fuzz.sh read_image SECONDS`.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(p) = livc::io::decode_picture_bytes(data) {
        assert_eq!(p.rgb.pixels.len(), p.rgb.width * p.rgb.height * 3);
        if let Some(a) = &p.alpha {
            assert_eq!(a.len(), p.rgb.width * p.rgb.height);
        }
    }
});
