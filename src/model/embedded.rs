//! The model packages compiled into the binary (see build.rs).

use anyhow::{Result, bail};

use super::package::{Package, hex, package_hash};
use super::temporal::TemporalPackage;
use super::vq::VqPackage;

include!(concat!(env!("OUT_DIR"), "/embedded_models.rs"));

/// Every embedded package, ordered by quality.
pub fn packages() -> Result<Vec<Package>> {
    let mut out = EMBEDDED.iter().map(|(_, bytes)| Package::from_bytes(bytes)).collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|p| p.info.quality);
    Ok(out)
}

/// The embedded package whose hash is `hash` (a file's model hash), if any.
/// Only that one is parsed: parsing builds its probability tables, about
/// 25 ms a package, which every `livc decode` would otherwise pay per
/// embedded model. `name` (the file's model name) is a hint: the package
/// whose file stem it is gets hashed first (each hash reads its whole
/// package, about 5 ms), the others only if that one does not match.
pub fn package_with_hash(name: &str, hash: &[u8; 8]) -> Result<Option<Package>> {
    package_where(name, |h| h == hash)
}

/// The first embedded package whose hash `matches`, parsed (no other is);
/// the one whose file stem is `hint` is tried first.
fn package_where(hint: &str, matches: impl Fn(&[u8; 8]) -> bool) -> Result<Option<Package>> {
    let other = |file: &str| file.strip_suffix(".safetensors") != Some(hint);
    let mut order: Vec<&(&str, &[u8])> = EMBEDDED.iter().collect();
    order.sort_by_key(|(file, _)| other(file));
    order
        .into_iter()
        .map(|(_, bytes)| (bytes, package_hash(bytes)))
        .find(|(_, hash)| matches(hash))
        .map(|(bytes, hash)| Package::from_hashed_bytes(bytes, hash))
        .transpose()
}

/// The default image model's name (its package's `name`, and its file's
/// stem in `weights/`). Other embedded image models stay for the files and
/// the clip and VQ packages made with them.
pub const DEFAULT_MODEL: &str = "livc-vr6";

/// The default image model: [`DEFAULT_MODEL`], a variable-rate model that
/// serves every `-q`. Errors: this build does not embed it.
pub fn default_model() -> Result<Package> {
    // Its file is weights/DEFAULT_MODEL.safetensors: parse that one alone.
    let file = format!("{DEFAULT_MODEL}.safetensors");
    if let Some((_, bytes)) = EMBEDDED.iter().find(|(name, _)| *name == file) {
        let package = Package::from_bytes(bytes)?;
        if package.info.name == DEFAULT_MODEL {
            return Ok(package);
        }
    }
    default_among(packages()?)
}

fn default_among(all: Vec<Package>) -> Result<Package> {
    match all.into_iter().find(|p| p.info.name == DEFAULT_MODEL) {
        Some(p) => Ok(p),
        None => bail!("this build does not embed the default model {DEFAULT_MODEL}; pass --model FILE"),
    }
}

/// The image model clips are coded with: the default when an embedded
/// temporal package (P-frame modules) fits it, else the first embedded model
/// one fits, else the default (which then codes clips all-intra only: `--gop 1`).
pub fn clip_model() -> Result<Package> {
    let temporal = temporal_packages()?;
    let has_prior = |p: &Package| temporal.iter().any(|t| t.fits(p));
    let mut all = packages()?;
    let pick = all
        .iter()
        .position(|p| p.info.name == DEFAULT_MODEL && has_prior(p))
        .or_else(|| all.iter().position(has_prior));
    match pick {
        Some(i) => Ok(all.swap_remove(i)),
        None => default_among(all),
    }
}

/// The embedded temporal packages (P-frame modules), in file-name order.
fn temporal_packages() -> Result<Vec<TemporalPackage>> {
    EMBEDDED_TEMPORAL
        .iter()
        .map(|(name, bytes)| {
            TemporalPackage::from_bytes(bytes)
                .map_err(|e| anyhow::anyhow!("embedded temporal package {name} is unreadable: {e:#}"))
        })
        .collect()
}

/// The embedded temporal package (P-frame modules) trained for the image
/// model `base`, if this build has one.
pub fn temporal_for(base: &Package) -> Result<Option<TemporalPackage>> {
    Ok(temporal_packages()?.into_iter().find(|t| t.fits(base)))
}

/// The embedded VQ packages (the codebook mode), in file-name order.
pub fn vq_packages() -> Result<Vec<VqPackage>> {
    EMBEDDED_VQ
        .iter()
        .map(|(name, bytes)| {
            VqPackage::from_bytes(bytes).map_err(|e| anyhow::anyhow!("embedded VQ package {name} is unreadable: {e:#}"))
        })
        .collect()
}

/// The embedded VQ package with hash `hash` (a VQ file's model hash), if any.
pub fn vq_package(hash: &[u8; 8]) -> Result<Option<VqPackage>> {
    Ok(vq_packages()?.into_iter().find(|p| p.hash == *hash))
}

/// The image package a VQ package was made for, among the embedded ones.
/// Errors: none embedded has its hash.
pub fn base_of(vq: &VqPackage) -> Result<Package> {
    match package_where(&vq.info.base_name, |h| hex(h) == vq.info.base_hash)?.filter(|p| vq.fits(p)) {
        Some(p) => Ok(p),
        None => bail!(
            "VQ package {} needs image model {} ({}), which this build does not embed",
            vq.info.name,
            vq.info.base_name,
            vq.info.base_hash
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_that_parse_one_package_find_what_parsing_all_finds() {
        let all = packages().unwrap();
        assert!(!all.is_empty());
        for p in &all {
            for hint in [p.info.name.as_str(), "not-a-model"] {
                let found =
                    package_with_hash(hint, &p.hash).unwrap().expect("every embedded package is found by its hash");
                assert_eq!((found.info.name.as_str(), found.hash), (p.info.name.as_str(), p.hash));
            }
        }
        assert!(package_with_hash(&all[0].info.name, &[0; 8]).unwrap().is_none());
        for vq in vq_packages().unwrap() {
            let base = all.iter().find(|p| vq.fits(p)).expect("every VQ package's base is embedded");
            assert_eq!(base_of(&vq).unwrap().hash, base.hash);
        }
        let default = default_model().unwrap();
        assert_eq!(default.hash, default_among(all).unwrap().hash);
    }
}
