//! The model packages compiled into the binary (see build.rs).

use anyhow::{Result, bail};

use super::package::Package;
use super::temporal::TemporalPackage;
use super::vq::VqPackage;

include!(concat!(env!("OUT_DIR"), "/embedded_models.rs"));

/// Every embedded package, ordered by quality.
pub fn packages() -> Result<Vec<Package>> {
    let mut out = EMBEDDED.iter().map(|(_, bytes)| Package::from_bytes(bytes)).collect::<Result<Vec<_>>>()?;
    out.sort_by_key(|p| p.info.quality);
    Ok(out)
}

/// The embedded package for quality `q`: a variable-rate model serves every
/// quality, else the model trained for `q`. Without `q`, the default: the
/// variable-rate model (at its package's quality), else the middle per-rate one.
pub fn for_quality(q: Option<u8>) -> Result<Package> {
    let all = packages()?;
    if let Some(p) = all.iter().position(|p| p.info.config.is_variable_rate()) {
        return Ok(all.into_iter().nth(p).unwrap());
    }
    let qualities: Vec<u8> = all.iter().map(|p| p.info.quality).collect();
    let Some(q) = q.or(qualities.get(qualities.len() / 2).copied()) else {
        bail!("this build embeds no model; pass --model FILE")
    };
    match all.into_iter().find(|p| p.info.quality == q) {
        Some(p) => Ok(p),
        None => bail!("no model for quality {q}; this build has qualities {qualities:?}"),
    }
}

/// The embedded temporal package (P-frame modules) trained for the image
/// model `base`, if this build has one.
pub fn temporal_for(base: &Package) -> Result<Option<TemporalPackage>> {
    for (name, bytes) in EMBEDDED_TEMPORAL {
        let package = TemporalPackage::from_bytes(bytes)
            .map_err(|e| anyhow::anyhow!("embedded temporal package {name} is unreadable: {e:#}"))?;
        if package.fits(base) {
            return Ok(Some(package));
        }
    }
    Ok(None)
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

/// The image package a VQ package was made for, among the embedded ones.
/// Errors: none embedded has its hash.
pub fn base_of(vq: &VqPackage) -> Result<Package> {
    match packages()?.into_iter().find(|p| vq.fits(p)) {
        Some(p) => Ok(p),
        None => bail!(
            "VQ package {} needs image model {} ({}), which this build does not embed",
            vq.info.name,
            vq.info.base_name,
            vq.info.base_hash
        ),
    }
}
