//! Real-world inputs (issue 18): photo metadata, 16-bit and alpha, sizes
//! checked from the header, and the command line's file handling: `-`,
//! atomic writes, never overwriting the input.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{scratch, stderr};
use livc::io::{Picture, RgbImage, decode_picture_bytes};

fn data(name: &str) -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)).unwrap()
}

/// A PNG of `img`'s size whose header claims `w`×`h` (IHDR patched, CRC fixed).
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = livc::io::encode_image(&common::gradient(4, 4, 1), None, image::ImageFormat::Png).unwrap();
    png[16..20].copy_from_slice(&w.to_be_bytes());
    png[20..24].copy_from_slice(&h.to_be_bytes());
    let crc = crc32fast::hash(&png[12..29]);
    png[29..33].copy_from_slice(&crc.to_be_bytes());
    png
}

#[test]
fn exif_orientation_is_applied() {
    let picture = decode_picture_bytes(&data("jpeg_exif_orientation6_48x32.jpg")).unwrap();
    let reference = decode_picture_bytes(&data("jpeg_exif_orientation6_48x32.ref.png")).unwrap().rgb;
    assert_eq!((picture.rgb.width, picture.rgb.height), (32, 48));
    // JPEG decoders may differ by a unit here and there; sideways is ~130.
    let mean = picture.rgb.pixels.iter().zip(&reference.pixels).map(|(&a, &b)| a.abs_diff(b) as f64).sum::<f64>()
        / reference.pixels.len() as f64;
    assert!(mean < 2.0, "mean difference from the upright rendering {mean}");
    assert!(picture.notes.iter().any(|n| n.contains("orientation")), "{:?}", picture.notes);
}

#[test]
fn sizes_are_refused_from_the_header_before_decoding() {
    // A 1.5 KB JPEG claiming 40000×40000 (9 GB of pixels once decoded).
    let err = decode_picture_bytes(&data("jpeg_sof_claims_40000x40000.jpg")).unwrap_err();
    assert!(format!("{err:#}").contains("40000×40000"), "{err:#}");
    // Within the side limit but above the pixel limit, and over the side limit.
    for (w, h) in [(30000, 30000), (40000, 2)] {
        let err = decode_picture_bytes(&png_claiming(w, h)).unwrap_err();
        assert!(format!("{err:#}").contains(&format!("{w}×{h}")), "{err:#}");
    }
}

#[test]
fn sixteen_bit_samples_are_rounded_to_eight() {
    // v → round(v / 257): 385 → 1 (1.498), 386 → 2 (1.502), 65406 → 254 (254.498).
    let samples: [u16; 6] = [0, 385, 386, 32896, 65406, 65535];
    let expected: Vec<u8> = samples.iter().map(|&v| (v as f64 / 257.0).round() as u8).collect();
    assert_eq!(expected, [0, 1, 2, 128, 254, 255]);
    let img = image::ImageBuffer::<image::Rgb<u16>, _>::from_raw(2, 1, samples.to_vec()).unwrap();
    for format in [image::ImageFormat::Png, image::ImageFormat::Tiff, image::ImageFormat::Pnm] {
        let mut bytes = std::io::Cursor::new(Vec::new());
        image::DynamicImage::ImageRgb16(img.clone()).write_to(&mut bytes, format).unwrap();
        let picture = decode_picture_bytes(bytes.get_ref()).unwrap();
        assert_eq!(picture.rgb.pixels, expected, "{format:?}");
        assert!(picture.notes.iter().any(|n| n.contains("16-bit")), "{format:?}: {:?}", picture.notes);
    }
}

/// Found by the read_image fuzz target: a PNG whose palette is not whole RGB
/// entries made the png crate panic (index out of range).
#[test]
fn a_malformed_png_palette_is_an_error_not_a_panic() {
    let err = decode_picture_bytes(&data("png_palette_53_bytes.png")).unwrap_err();
    assert!(format!("{err:#}").contains("palette is 53 bytes"), "{err:#}");
}

#[test]
fn floating_point_samples_are_refused_with_a_reason() {
    let img = image::Rgb32FImage::from_raw(2, 2, vec![0.5; 12]).unwrap();
    let mut bytes = std::io::Cursor::new(Vec::new());
    image::DynamicImage::ImageRgb32F(img).write_to(&mut bytes, image::ImageFormat::Tiff).unwrap();
    let err = decode_picture_bytes(bytes.get_ref()).unwrap_err();
    assert!(format!("{err:#}").contains("floating-point"), "{err:#}");
}

#[test]
fn alpha_survives_exactly_and_opaque_alpha_is_dropped() {
    let rgb = common::gradient(40, 30, 3);
    let alpha: Vec<u8> = (0..40 * 30).map(|i| if i % 40 < 10 { 0 } else { (i * 3 % 256) as u8 }).collect();
    let png = livc::io::encode_image(&rgb, Some(&alpha), image::ImageFormat::Png).unwrap();
    let picture = decode_picture_bytes(&png).unwrap();
    assert_eq!(picture.alpha.as_deref(), Some(&alpha[..]));
    let opaque = livc::io::encode_image(&rgb, Some(&vec![255; 40 * 30]), image::ImageFormat::Png).unwrap();
    assert_eq!(decode_picture_bytes(&opaque).unwrap().alpha, None);

    let package = livc::model::package::Package::from_bytes(common::tiny_package_bytes()).unwrap();
    let codec = livc::codec::Codec::new(package, livc::Backend::Cpu).unwrap();
    let encoded = codec.encode_picture(&picture, 64, false).unwrap();
    assert!(encoded.alpha_bytes > 0);
    let decoded: Picture = codec.decode_picture(&encoded.bytes, false).unwrap();
    assert_eq!(decoded.alpha, picture.alpha);
    assert_eq!((decoded.rgb.width, decoded.rgb.height), (40, 30));
    // The parse (what backends compare) reads past the alpha plane too, and
    // gives the tiles of the same picture coded without it.
    let without = codec.encode_image(&picture.rgb, 64, false).unwrap();
    assert_eq!(codec.parse(&encoded.bytes).unwrap(), codec.parse(&without.bytes).unwrap());
    // A damaged alpha plane is corruption, not a panic.
    let mut broken = encoded.bytes.clone();
    let at = broken.len() - 4 - encoded.alpha_bytes / 2;
    broken[at] ^= 0x55;
    let body = broken.len() - 4;
    let crc = crc32fast::hash(&broken[..body]);
    broken[body..].copy_from_slice(&crc.to_le_bytes());
    assert!(codec.decode_picture(&broken, false).is_err());
}

#[test]
fn alpha_through_the_command_line() {
    let d = scratch("inputs-alpha");
    let rgb = common::gradient(33, 20, 4);
    let alpha: Vec<u8> = (0..33 * 20).map(|i| (i % 256) as u8).collect();
    std::fs::write(d.join("rgba.png"), livc::io::encode_image(&rgb, Some(&alpha), image::ImageFormat::Png).unwrap())
        .unwrap();
    let o = common::livc_in(&d, &["encode", "rgba.png", "-o", "a.livc", "--model", "tiny.safetensors"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("alpha plane"), "{}", stderr(&o));
    let info: serde_json::Value =
        serde_json::from_slice(&common::livc_in(&d, &["info", "a.livc", "--json"]).stdout).unwrap();
    assert_eq!((info["alpha"].as_bool(), info["format_version"].as_u64()), (Some(true), Some(2)));
    let o = common::livc_in(&d, &["decode", "a.livc", "-o", "out.png", "--model", "tiny.safetensors"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(decode_picture_bytes(&std::fs::read(d.join("out.png")).unwrap()).unwrap().alpha, Some(alpha));
    // JPEG cannot hold alpha: refused, and no file left behind.
    let o = common::livc_in(&d, &["decode", "a.livc", "-o", "out.jpg", "--model", "tiny.safetensors"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("transparency"), "{}", stderr(&o));
    assert!(!d.join("out.jpg").exists());
}

#[test]
fn bench_json_is_checked_before_the_benchmark_and_replaced_only_with_force() {
    let d = scratch("inputs-bench-json");
    std::fs::create_dir_all(d.join("images")).unwrap();
    let png = livc::io::encode_image(&common::gradient(40, 24, 1), None, image::ImageFormat::Png).unwrap();
    std::fs::write(d.join("images/a.png"), png).unwrap();
    std::fs::write(d.join("old.json"), "keep").unwrap();
    let bench = |json: &[&str]| {
        common::livc_in(
            &d,
            &[&["bench", "--dataset", "images", "--model", "tiny.safetensors", "--json"], json].concat(),
        )
    };
    for (json, expected) in [(&["old.json"][..], "--force"), (&["missing/out.json"][..], "does not exist")] {
        let o = bench(json);
        assert_eq!(o.status.code(), Some(1), "{json:?}");
        assert!(stderr(&o).contains(expected), "{json:?}: {}", stderr(&o));
        assert!(o.stdout.is_empty(), "{json:?}: benchmarked before refusing");
    }
    assert_eq!(std::fs::read_to_string(d.join("old.json")).unwrap(), "keep");
    let o = bench(&["old.json", "--force"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let written: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("old.json")).unwrap()).unwrap();
    assert_eq!(written["images"].as_array().map(Vec::len), Some(1));
}

#[test]
fn standard_input_without_output_means_standard_output() {
    let d = scratch("inputs-dash");
    let run = |args: &[&str], input: &[u8]| -> Output {
        let mut child = Command::new(env!("CARGO_BIN_EXE_livc"))
            .current_dir(&d)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    };
    let png = std::fs::read(d.join("in.png")).unwrap();
    let o = run(&["encode", "-", "--model", "tiny.safetensors", "--quiet"], &png);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(&o.stdout[..4], b"LIVC");
    let o = run(&["decode", "-", "--model", "tiny.safetensors", "--quiet"], &o.stdout);
    assert!(o.status.success(), "{}", stderr(&o));
    let out = decode_picture_bytes(&o.stdout).unwrap();
    assert_eq!((out.rgb.width, out.rgb.height), (33, 20));
    assert_eq!(common::files(&d), ["in.png", "tiny.safetensors"], "no file named after -");
}

#[test]
fn inputs_are_never_overwritten_and_failures_leave_no_file() {
    let d = scratch("inputs-overwrite");
    let before = std::fs::read(d.join("in.png")).unwrap();
    std::fs::hard_link(d.join("in.png"), d.join("link.png")).unwrap();
    for output in ["in.png", "./in.png", "link.png"] {
        let o = common::livc_in(&d, &["encode", "in.png", "-o", output, "--model", "tiny.safetensors", "--force"]);
        assert_eq!(o.status.code(), Some(1), "{output}");
        assert!(stderr(&o).contains("is the input"), "{output}: {}", stderr(&o));
    }
    assert_eq!(std::fs::read(d.join("in.png")).unwrap(), before);

    let o = common::livc_in(&d, &["encode", "in.png", "-o", "a.livc", "--model", "tiny.safetensors"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let o = common::livc_in(&d, &["decode", "a.livc", "-o", "a.livc", "--model", "tiny.safetensors", "--force"]);
    assert!(stderr(&o).contains("is the input"), "{}", stderr(&o));
    // The input through standard input, with --force: still refused.
    let o = Command::new(env!("CARGO_BIN_EXE_livc"))
        .current_dir(&d)
        .args(["encode", "-", "-o", "in.png", "--model", "tiny.safetensors", "--force"])
        .stdin(std::fs::File::open(d.join("in.png")).unwrap())
        .output()
        .unwrap();
    assert!(stderr(&o).contains("is the input"), "{}", stderr(&o));
    assert_eq!(std::fs::read(d.join("in.png")).unwrap(), before);
    // A format this build cannot write fails before any work and any file
    // (the image crate's save used to create the file first and leave it empty).
    let o = common::livc_in(&d, &["decode", "a.livc", "-o", "out.tga", "--model", "tiny.safetensors"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("cannot write .tga"), "{}", stderr(&o));
    // A folder that does not exist, or a folder as the output: an error, nothing written.
    let o = common::livc_in(&d, &["decode", "a.livc", "-o", "no/such/out.png", "--model", "tiny.safetensors"]);
    assert!(stderr(&o).contains("folder no/such does not exist"), "{}", stderr(&o));
    let o = common::livc_in(&d, &["decode", "a.livc", "-o", ".", "--model", "tiny.safetensors", "--force"]);
    assert!(stderr(&o).contains("is a folder"), "{}", stderr(&o));
    assert_eq!(common::files(&d), ["a.livc", "in.png", "link.png", "tiny.safetensors"]);
    // Without -o, decoding never names the image the file was made from.
    let o = common::livc_in(&d, &["decode", "a.livc", "--model", "tiny.safetensors"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(d.join("a.livc.png").exists());
    assert_eq!(std::fs::read(d.join("in.png")).unwrap(), before);
    std::fs::remove_file(d.join("a.livc.png")).unwrap();
    // PPM output is binary PPM (P6), not PAM.
    let o = common::livc_in(&d, &["decode", "a.livc", "-o", "out.ppm", "--model", "tiny.safetensors"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(&std::fs::read(d.join("out.ppm")).unwrap()[..2], b"P6");
    std::fs::remove_file(d.join("out.ppm")).unwrap();
    // Written files get a new file's usual permissions (not a temporary file's 0600).
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::write(d.join("plain"), b"x").unwrap();
        let mode = |f: &str| std::fs::metadata(d.join(f)).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode("a.livc"), mode("plain"));
    }
}

#[test]
fn pixel_reading_matches_for_every_input_format() {
    // The same pixels through every lossless format livc reads.
    let img: RgbImage = common::gradient(19, 7, 2);
    for format in [image::ImageFormat::Png, image::ImageFormat::Tiff, image::ImageFormat::Bmp, image::ImageFormat::Pnm]
    {
        let bytes = livc::io::encode_image(&img, None, format).unwrap();
        let picture = decode_picture_bytes(&bytes).unwrap();
        assert_eq!(picture.rgb, img, "{format:?}");
        assert!(picture.notes.is_empty(), "{format:?}: {:?}", picture.notes);
    }
}

/// A PNG of `img` carrying the ICC profile `icc`.
fn png_with_profile(img: &RgbImage, icc: Vec<u8>) -> Vec<u8> {
    use image::ImageEncoder;
    let mut out = Vec::new();
    let mut encoder = image::codecs::png::PngEncoder::new(&mut out);
    encoder.set_icc_profile(icc).unwrap();
    encoder.write_image(&img.pixels, img.width as u32, img.height as u32, image::ExtendedColorType::Rgb8).unwrap();
    out
}

#[test]
fn colour_profiles_are_converted_to_srgb() {
    let img = common::gradient(16, 16, 5);
    // Adobe RGB: every saturated colour moves; the note says so.
    let icc = moxcms::ColorProfile::new_adobe_rgb().encode().unwrap();
    let picture = decode_picture_bytes(&png_with_profile(&img, icc.clone())).unwrap();
    let transform = moxcms::ColorProfile::new_from_slice(&icc)
        .unwrap()
        .create_transform_8bit(
            moxcms::Layout::Rgb,
            &moxcms::ColorProfile::new_srgb(),
            moxcms::Layout::Rgb,
            moxcms::TransformOptions::default(),
        )
        .unwrap();
    let mut expected = vec![0; img.pixels.len()];
    transform.transform(&img.pixels, &mut expected).unwrap();
    assert_ne!(expected, img.pixels);
    assert_eq!(picture.rgb.pixels, expected);
    assert!(picture.notes.iter().any(|n| n.contains("ICC")), "{:?}", picture.notes);
    // An sRGB profile changes nothing and needs no note.
    let srgb = moxcms::ColorProfile::new_srgb().encode().unwrap();
    let picture = decode_picture_bytes(&png_with_profile(&img, srgb)).unwrap();
    assert_eq!(picture.rgb, img);
    assert!(picture.notes.is_empty(), "{:?}", picture.notes);
    // A profile that is not one, or one that describes no RGB device (here
    // the Adobe profile relabelled abstract): a warning, the values as they are.
    let mut abstract_profile = icc.clone();
    abstract_profile[12..16].copy_from_slice(b"abst");
    for bad in [b"not an ICC profile at all".to_vec(), abstract_profile] {
        let picture = decode_picture_bytes(&png_with_profile(&img, bad)).unwrap();
        assert_eq!(picture.rgb, img);
        assert!(picture.notes.iter().any(|n| n.starts_with("warning") && n.contains("ICC")), "{:?}", picture.notes);
    }
}

#[test]
fn a_png_gamma_that_is_not_srgb_gives_a_warning() {
    let img = common::gradient(8, 8, 6);
    let with_gamma = |gamma: f32| {
        let mut out = Vec::new();
        let mut encoder = png::Encoder::new(&mut out, 8, 8);
        encoder.set_color(png::ColorType::Rgb);
        encoder.set_source_gamma(png::ScaledFloat::new(gamma));
        encoder.write_header().unwrap().write_image_data(&img.pixels).unwrap();
        out
    };
    let linear = decode_picture_bytes(&with_gamma(1.0)).unwrap();
    assert_eq!(linear.rgb, img);
    assert!(linear.notes.iter().any(|n| n.contains("gamma 1.0000")), "{:?}", linear.notes);
    assert!(decode_picture_bytes(&with_gamma(1.0 / 2.2)).unwrap().notes.is_empty());
}

/// `bytes` (a model package) with its metadata entry `key` (JSON) and its
/// i32 tensors edited.
fn edited_package(
    bytes: &[u8],
    key: &str,
    edit: impl FnOnce(&mut serde_json::Value, &mut std::collections::HashMap<String, Vec<i32>>),
) -> Vec<u8> {
    use safetensors::{Dtype, SafeTensors, tensor::TensorView};
    let st = SafeTensors::deserialize(bytes).unwrap();
    let (_, meta) = SafeTensors::read_metadata(bytes).unwrap();
    let mut meta = meta.metadata().clone().unwrap();
    let mut info: serde_json::Value = serde_json::from_str(&meta[key]).unwrap();
    let mut ints = std::collections::HashMap::new();
    let mut others = Vec::new();
    for (name, view) in st.tensors() {
        if view.dtype() == Dtype::I32 {
            ints.insert(name, view.data().chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect());
        } else {
            others.push((name, view.dtype(), view.shape().to_vec(), view.data().to_vec()));
        }
    }
    edit(&mut info, &mut ints);
    meta.insert(key.into(), info.to_string());
    let ints: Vec<(String, Vec<u8>)> =
        ints.into_iter().map(|(k, v)| (k, v.iter().flat_map(|x| x.to_le_bytes()).collect())).collect();
    let mut views: Vec<(String, TensorView)> = others
        .iter()
        .map(|(k, dtype, shape, data)| (k.clone(), TensorView::new(*dtype, shape.clone(), data).unwrap()))
        .collect();
    for (k, data) in &ints {
        views.push((k.clone(), TensorView::new(Dtype::I32, vec![data.len() / 4], data).unwrap()));
    }
    safetensors::serialize(views, Some(meta)).unwrap()
}

#[test]
fn malformed_model_packages_are_errors_not_panics_or_huge_allocations() {
    use livc::model::package::Package;
    use livc::model::temporal::TemporalPackage;
    let full = common::tiny_full_package_bytes();
    // The edits are checked to reach the loader: the unedited copy loads.
    assert!(
        Package::from_bytes(&edited_package(full, "livc", |_, _| {}))
            .unwrap()
            .network(&livc::Backend::Cpu.device())
            .is_ok()
    );
    type Edit = Box<dyn FnOnce(&mut serde_json::Value, &mut std::collections::HashMap<String, Vec<i32>>)>;
    let cases: Vec<(&str, Edit, &str)> = vec![
        // Sizes that would build a network of terabytes before its weights are read.
        ("N of a million", Box::new(|i, _| i["config"]["n"] = 1_000_000.into()), "does not fit its sizes"),
        ("M of a billion", Box::new(|i, _| i["config"]["m"] = 1_000_000_000.into()), "does not fit its sizes"),
        (
            "context hidden",
            Box::new(|i, _| i["config"]["context_hidden"] = 1_000_000_000.into()),
            "slice_mean.0.output",
        ),
        ("λ rows", Box::new(|i, _| i["config"]["lambdas"] = vec![0.01; 100_000].into()), "quality.gain"),
        // Tables the coder would loop forever on, or index past.
        (
            "a frequency of 0",
            Box::new(|_, t| {
                let cdf = t.get_mut("table.z.cdf").unwrap();
                cdf[1] = cdf[0];
            }),
            "frequency 0",
        ),
        ("a negative length", Box::new(|_, t| t.get_mut("table.scale.index").unwrap()[1] = -5), "truncated tables"),
        ("an odd index", Box::new(|_, t| t.get_mut("table.z.index").unwrap().push(3)), "malformed table index"),
        (
            "a CDF short of 2^16",
            Box::new(|_, t| *t.get_mut("table.z.cdf").unwrap().last_mut().unwrap() -= 1),
            "not a CDF",
        ),
        // Integer layers whose sums would overflow i32.
        ("a huge bias", Box::new(|_, t| t.get_mut("int.1.bias").unwrap()[0] = 1 << 30), "bias out of range"),
        ("a huge input shift", Box::new(|i, _| i["int_input_frac"] = 40.into()), "does not fit its sizes"),
    ];
    for (what, edit, expected) in cases {
        let err =
            Package::from_bytes(&edited_package(full, "livc", edit)).err().unwrap_or_else(|| panic!("{what}: loaded"));
        assert!(format!("{err:#}").contains(expected), "{what}: {err:#}");
    }
    // A temporal package whose hidden width does not fit its weights.
    let temporal = common::tiny_temporal_bytes(full);
    let bytes = edited_package(&temporal, "livc-temporal", |i, _| i["hidden"] = 1_000_000_000.into());
    let package = TemporalPackage::from_bytes(&bytes).unwrap();
    let err = package
        .network(16, 24, &livc::Backend::Cpu.device())
        .map(|_| ())
        .expect_err("a temporal network of 10^9 channels");
    assert!(format!("{err:#}").contains("predictor.0.weight"), "{err:#}");
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig { cases: 96, ..Default::default() })]

    /// Random edits of a package's integer tensors (tables, integer layers)
    /// and of its sizes: loading, building the codec, encoding and decoding a
    /// small image give results or errors, never a panic, a hang or a huge
    /// allocation (what `--model FILE` must withstand).
    #[test]
    fn edited_packages_load_code_and_decode_or_fail_cleanly(
        edits in proptest::collection::vec((0usize..64, 0usize..1 << 20, 0usize..9, proptest::prelude::any::<i32>()), 1..4),
        size_edit in proptest::option::of((0usize..4, 0u64..1 << 40)),
    ) {
        use livc::model::package::Package;
        let bytes = edited_package(common::tiny_full_package_bytes(), "livc", |info, ints| {
            let mut names: Vec<String> = ints.keys().cloned().collect();
            names.sort();
            for &(tensor, at, kind, random) in &edits {
                let values = ints.get_mut(&names[tensor % names.len()]).unwrap();
                if values.is_empty() {
                    continue;
                }
                let n = values.len();
                let value = [0, -1, 1, 65_535, 65_536, i32::MAX, i32::MIN, values[at % n].wrapping_add(1), random][kind];
                values[at % n] = value;
            }
            if let Some((field, value)) = size_edit {
                let key = ["n", "m", "context_hidden", "slices"][field];
                info["config"][key] = if key == "slices" { vec![value; 2].into() } else { value.into() };
            }
        });
        if let Ok(package) = Package::from_bytes(&bytes)
            && let Ok(codec) = livc::codec::Codec::new(package, livc::Backend::Cpu)
            && let Ok(encoded) = codec.encode_image(&common::gradient(40, 24, 2), 64, false)
        {
            let _ = codec.decode_picture(&encoded.bytes, false);
        }
    }
}
