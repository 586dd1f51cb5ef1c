//! The VQ codebook mode's model (issue 20): extreme low bitrate, one
//! codebook index per 16×16 block.
//!
//! The image model's analysis at the package's quality ([`VqInfo::quality`],
//! 0 for the embedded package) gives y (`M × H/16 × W/16`); each
//! position is replaced by its nearest codeword among the first K entries of
//! one *nested* codebook (`K_max × M`): every rate K in [`VqInfo::sizes`]
//! uses a prefix of it, so one codebook and one synthesis (the image model's,
//! fine-tuned on the codewords) serve every rate (variable codebook size).
//! training/vq.py trains it (nested k-means, then MSE + MS-SSIM).
//!
//! The **index prior** ([`IndexPrior`]) codes the index map in a
//! checkerboard, three passes in raster order:
//! 1. anchors ((i + j) even): the index, one table per K;
//! 2. the others' *group* (the nearest of the first [`GROUPS`] codewords,
//!    fixed in the package) under one of 17² tables chosen by the groups of
//!    the left and upper anchors ([`context`]);
//! 3. their rank among the codewords < K of that group, one table per group.
//!
//! Every table is chosen by integer arithmetic on already-decoded indices,
//! so every backend parses a file identically. The tables are integer CDFs
//! made at load time ([`crate::entropy::tables::quantize_pmf`], exact f64
//! arithmetic on the package's integer counts).

use anyhow::{Context, Result, bail};
use safetensors::Dtype;
use serde::{Deserialize, Serialize};

use super::package::{Package, f16_to_f32, hex, package_hash};
use crate::entropy::tables::LatentTable;

/// The rate ladder: per rate level (the file header's quality byte), the
/// codebook size K and the coded resolution, as the factor (in quarters)
/// the picture is downscaled by before the analysis: 8 = 2×, 6 = 1.5×,
/// 5 = 1.25×, 4 = full size. Chosen by measurement (Kodak, 4 images): at
/// these rates a large codebook on a smaller picture beats a small one at
/// full size (K = 4096 at 2× gives 22.6 dB at 0.013 bpp; K = 16 at full
/// size 19.9 dB at 0.014 bpp).
pub const LEVELS: [(usize, u32); 6] = [(16, 8), (256, 8), (4096, 8), (4096, 6), (4096, 5), (4096, 4)];

/// The size a `width`×`height` picture is coded at for a level that
/// downscales by `quarters`/4 (at least 1×1).
pub fn coded_size(width: usize, height: usize, quarters: u32) -> (usize, usize) {
    let q = quarters as usize;
    ((width * 4).div_ceil(q).max(1), (height * 4).div_ceil(q).max(1))
}

/// Groups of the context: the first 16 codewords.
pub const GROUPS: usize = 16;
/// Context tables of pass 2: the left and upper anchors' groups, each one of
/// [`GROUPS`] or "none" (a 1-wide or 1-high map).
pub const CONTEXTS: usize = (GROUPS + 1) * (GROUPS + 1);

/// What a VQ package says of itself (metadata `livc-vq`).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct VqInfo {
    /// The package's name, written into the files it codes.
    pub name: String,
    /// The image model whose analysis (and, fine-tuned, synthesis) it uses:
    /// name and hash (hex).
    pub base_name: String,
    pub base_hash: String,
    /// The codebook sizes K, one per rate level, increasing; the codebook
    /// holds the last.
    pub sizes: Vec<usize>,
    /// The image model's quality whose gained latent domain the codebook lives in.
    pub quality: u8,
    /// Training steps so far.
    pub steps: u64,
    /// Training wall-clock seconds so far.
    pub wall_seconds: f64,
    /// Per size, how many codewords the training photos used.
    #[serde(default)]
    pub usage: std::collections::BTreeMap<String, usize>,
    /// Training provenance, free-form.
    pub trained: String,
}

/// One rate level's prior: its tables, and the groups' members.
#[derive(Clone, Debug)]
pub struct IndexPrior {
    /// K: indices are 0..K.
    pub size: usize,
    /// [anchor table, CONTEXTS group tables, GROUPS member tables].
    pub tables: Vec<LatentTable>,
    /// Per group, its codewords below K in rank order.
    pub members: Vec<Vec<u32>>,
    /// Per codeword below K, its group and its rank in it.
    pub group: Vec<u8>,
    pub rank: Vec<u32>,
}

/// Table indices of the passes in [`IndexPrior::tables`].
pub const ANCHOR_TABLE: u32 = 0;
/// Index into [`IndexPrior::tables`] of pass 2's table for `context`
/// (17·l + u, from the left and upper anchors' groups).
pub const fn context_table(context: usize) -> u32 {
    1 + context as u32
}
/// Index into [`IndexPrior::tables`] of pass 3's table for `group`.
pub const fn member_table(group: u8) -> u32 {
    1 + CONTEXTS as u32 + group as u32
}

/// A VQ package: `net.synthesis*` (f16, the fine-tuned synthesis under the
/// image model's names), `vq.codebook` (f16, `K_max × M`), `vq.group` (i32),
/// and per size K the prior's counts `vq.K.anchor`, `vq.K.context`
/// (`CONTEXTS × GROUPS`), `vq.K.member`. Identified in files by the first 8
/// bytes of its SHA-256, like an image package.
#[derive(Clone)]
pub struct VqPackage {
    /// The package's metadata.
    pub info: VqInfo,
    /// First 8 bytes of the SHA-256 of the package file, as a file's header
    /// names it.
    pub hash: [u8; 8],
    /// `K_max × M`, row-major.
    pub codebook: Vec<f32>,
    /// M, the latent channels of a codeword.
    pub m: usize,
    /// One prior per codebook size in [`VqInfo::sizes`].
    pub priors: Vec<IndexPrior>,
    /// The synthesis weights (name, shape, f32 bytes) that replace the image model's.
    pub synthesis: Vec<(String, Vec<usize>, Vec<u8>)>,
}

/// The largest codebook a package may have: each index table gives every
/// index (and the escape) at least 1 of the coder's 2^16 frequency units.
pub const MAX_CODEBOOK: usize = 1 << 14;

impl VqPackage {
    /// Errors: not a VQ package, or one whose tensors disagree with its
    /// metadata, or a codebook above [`MAX_CODEBOOK`].
    pub fn from_bytes(bytes: &[u8]) -> Result<Self> {
        let (st, info): (_, VqInfo) = super::package::open(bytes, "livc-vq", "VQ")?;
        let ints = |name: &str| -> Result<Vec<i32>> {
            let view = st.tensor(name).with_context(|| format!("VQ package lacks {name}"))?;
            if view.dtype() != Dtype::I32 {
                bail!("VQ package's {name} is not i32");
            }
            Ok(view.data().chunks_exact(4).map(|c| i32::from_le_bytes(c.try_into().unwrap())).collect())
        };
        let book = st.tensor("vq.codebook").context("VQ package lacks its codebook")?;
        let (&[k_max, m], Dtype::F16) = (book.shape(), book.dtype()) else {
            bail!("VQ package's codebook is not a K × M f16 matrix");
        };
        let codebook: Vec<f32> =
            f16_to_f32(book.data()).chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
        let groups = ints("vq.group")?;
        let sizes = &info.sizes;
        if sizes.is_empty()
            || sizes.len() > 255
            || sizes[0] < GROUPS
            || sizes.windows(2).any(|w| w[0] >= w[1])
            || *sizes.last().unwrap() != k_max
            || k_max > MAX_CODEBOOK
            || groups.len() != k_max
            || groups.iter().any(|&g| !(0..GROUPS as i32).contains(&g))
            || (0..GROUPS).any(|g| groups[g] != g as i32)
            || LEVELS.iter().any(|(k, _)| !sizes.contains(k))
        {
            bail!("VQ package {} has inconsistent sizes or groups", info.name);
        }
        let mut priors = Vec::new();
        for &k in sizes {
            let anchor = ints(&format!("vq.{k}.anchor"))?;
            let context = ints(&format!("vq.{k}.context"))?;
            let member = ints(&format!("vq.{k}.member"))?;
            if anchor.len() != k || context.len() != CONTEXTS * GROUPS || member.len() != k {
                bail!("VQ package {} has malformed prior counts for K = {k}", info.name);
            }
            priors.push(IndexPrior::from_counts(k, &groups[..k], &anchor, &context, &member));
        }
        let mut synthesis = Vec::new();
        for (name, view) in st.tensors() {
            if let Some(key) = name.strip_prefix("net.") {
                if view.dtype() != Dtype::F16 {
                    bail!("VQ package's {name} is not f16");
                }
                synthesis.push((key.to_string(), view.shape().to_vec(), f16_to_f32(view.data())));
            }
        }
        Ok(Self { info, hash: package_hash(bytes), codebook, m, priors, synthesis })
    }

    /// Whether it was made for the image model `base`.
    pub fn fits(&self, base: &Package) -> bool {
        self.info.base_hash == hex(&base.hash) && self.m == base.info.config.m
    }

    /// The image package with this package's synthesis in place of its own.
    pub fn network_package(&self, base: &Package) -> Result<Package> {
        if !self.fits(base) {
            bail!(
                "VQ package {} was made for model {} ({}), not {} ({})",
                self.info.name,
                self.info.base_name,
                self.info.base_hash,
                base.info.name,
                hex(&base.hash)
            );
        }
        base.with_weights(&self.synthesis)
    }

    /// The rate level ([`LEVELS`]) for quality `q` (0..=100), spread evenly over it.
    pub fn level_for_quality(q: u8) -> u8 {
        ((q as usize * LEVELS.len()) / 101).min(LEVELS.len() - 1) as u8
    }

    /// The prior of codebook size `k` (one of the package's sizes).
    pub fn prior(&self, k: usize) -> &IndexPrior {
        self.priors.iter().find(|p| p.size == k).expect("LEVELS' sizes are checked at load")
    }
}

impl IndexPrior {
    /// Tables from counts (each symbol's count + ½, so every codeword stays codable).
    fn from_counts(size: usize, groups: &[i32], anchor: &[i32], context: &[i32], member: &[i32]) -> Self {
        let group: Vec<u8> = groups.iter().map(|&g| g as u8).collect();
        let mut members = vec![Vec::new(); GROUPS];
        let mut rank = vec![0u32; size];
        for (k, &g) in group.iter().enumerate() {
            rank[k] = members[g as usize].len() as u32;
            members[g as usize].push(k as u32);
        }
        let table = |counts: &mut dyn Iterator<Item = i32>| {
            let mut pmf: Vec<f64> = counts.map(|c| c.max(0) as f64 + 0.5).collect();
            let total: f64 = pmf.iter().sum();
            // The escape (never written by livc): as little mass as a table allows.
            pmf.push(total * 1e-9);
            LatentTable::from_pmf(0, &pmf)
        };
        let mut tables = vec![table(&mut anchor.iter().copied())];
        for c in 0..CONTEXTS {
            tables.push(table(&mut context[c * GROUPS..][..GROUPS].iter().copied()));
        }
        for m in &members {
            tables.push(table(&mut m.iter().map(|&k| member[k as usize])));
        }
        Self { size, tables, members, group, rank }
    }

    /// The pass-2 table of the non-anchor at (`i`, `j`) of an `h`×`w` map
    /// whose anchors' groups are known: the groups of its left and upper
    /// anchors (right / lower at the border, "none" without either).
    pub fn context(&self, idx: &[u32], (h, w): (usize, usize), (i, j): (usize, usize)) -> usize {
        let g = |y: usize, x: usize| self.group[idx[y * w + x] as usize] as usize;
        let left = if j > 0 {
            g(i, j - 1)
        } else if j + 1 < w {
            g(i, j + 1)
        } else {
            GROUPS
        };
        let up = if i > 0 {
            g(i - 1, j)
        } else if i + 1 < h {
            g(i + 1, j)
        } else {
            GROUPS
        };
        left * (GROUPS + 1) + up
    }
}

/// Positions of the anchors ((i + j) even) and of the others of an `h`×`w`
/// map, each in raster order.
pub fn checkerboard(h: usize, w: usize) -> (Vec<usize>, Vec<usize>) {
    (0..h * w).partition(|&p| (p / w + p % w).is_multiple_of(2))
}
