//! The `.livc` container (see docs/FORMAT.md).
//!
//! Every field is validated before anything is allocated from it: sizes
//! against fixed limits and against the bytes actually present, the CRC32
//! before any field is trusted.

use thiserror::Error;

pub mod clip;

/// The first 4 bytes of a `.livc` image file (clips start with
/// [`clip::CLIP_MAGIC`]).
pub const MAGIC: &[u8; 4] = b"LIVC";
/// The version of a scalar (hyperprior) file. Version 1 (no planes byte,
/// RGB only) is still read.
pub const VERSION: u8 = 2;
/// The version that adds the kind byte: what a VQ file is written as
/// (scalar files stay version 2, which older builds read).
pub const VERSION_KIND: u8 = 3;
/// Largest accepted width or height, in pixels.
pub const MAX_SIDE: u32 = 32768;
/// Most pixels an image may have (256 Mi, e.g. 16384×16384): 768 MiB of RGB
/// samples, the largest buffer a header lets a decoder allocate.
pub const MAX_PIXELS: u64 = 1 << 28;
/// [`MAX_PIXELS`] in units of 2^20 pixels, for messages.
pub const MAX_MEGAPIXELS: u64 = MAX_PIXELS >> 20;
/// Most lanes a segment may declare.
pub const MAX_LANES: usize = 4096;

/// Why a `.livc` file (image or clip) cannot be read, or a header cannot be
/// written.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FormatError {
    /// The data does not start with [`MAGIC`] (or [`clip::CLIP_MAGIC`]).
    #[error("not a livc file (bad magic)")]
    BadMagic,
    /// No bytes at all.
    #[error("the file is empty")]
    Empty,
    /// A format version byte this build does not read.
    #[error("livc format version {0} is not supported (this build reads versions 1 to {VERSION_KIND})")]
    BadVersion(u8),
    /// The data ends inside the named part.
    #[error("file is truncated ({0})")]
    Truncated(&'static str),
    /// The CRC32 over the file does not match.
    #[error("file is corrupt or truncated: checksum mismatch")]
    BadChecksum,
    /// Width × height in pixels outside [`MAX_SIDE`] a side or [`MAX_PIXELS`].
    #[error(
        "image size {0}×{1} is outside the supported range (1..={MAX_SIDE} a side, at most {MAX_MEGAPIXELS} megapixels)"
    )]
    BadSize(u32, u32),
    /// A field with an impossible value (named).
    #[error("file is corrupt: {0}")]
    Corrupt(&'static str),
    /// A clip format version byte this build does not read.
    #[error("livc clip format version {0} is not supported (this build reads version {v})", v = clip::CLIP_VERSION)]
    BadClipVersion(u8),
    /// A clip header declaring more than [`clip::MAX_FRAMES`] frames.
    #[error("file is corrupt: the header declares {0} frames (at most {m})", m = clip::MAX_FRAMES)]
    TooManyFrames(u32),
    /// The CRC32 of the record of frame `.0` (0-based) does not match.
    #[error("file is corrupt: checksum mismatch in frame {0}")]
    BadFrameChecksum(u32),
    /// A model name of `.0` bytes, over [`MAX_MODEL_NAME`].
    #[error("model name is {0} bytes long: a livc file holds at most {MAX_MODEL_NAME}")]
    NameTooLong(usize),
}

/// The longest model name a file's header holds, in bytes (UTF-8): its
/// length is one byte.
pub const MAX_MODEL_NAME: usize = 255;

/// Errors: [`FormatError::NameTooLong`] for a model name no header can hold.
pub fn check_model_name(name: &str) -> Result<(), FormatError> {
    if name.len() > MAX_MODEL_NAME { Err(FormatError::NameTooLong(name.len())) } else { Ok(()) }
}

/// Which kind of model coded a file's tiles: the file says, so decoding
/// needs nothing from the user.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// The scalar latent with the hyperprior and context model (each tile: a z
    /// segment, a y segment).
    Scalar = 0,
    /// The VQ codebook mode ([`crate::model::vq`]; each tile: three segments
    /// of codebook indices), `quality` its rate level.
    Vq = 1,
}

/// Which backend produced a file (informational: every backend reads every file).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Producer {
    /// burn's flex backend on the CPU (byte 0).
    Cpu = 0,
    /// burn's wgpu backend (byte 1).
    Wgpu = 1,
}

/// The header of a `.livc` image file (docs/FORMAT.md), versions 1 to 3.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Header {
    /// The model package's name (UTF-8, at most [`MAX_MODEL_NAME`] bytes).
    pub model_name: String,
    /// First 8 bytes of the SHA-256 of the model package file
    /// ([`crate::model::package::package_hash`]).
    pub model_hash: [u8; 8],
    /// Image size in pixels (1 ..= [`MAX_SIDE`] a side, at most [`MAX_PIXELS`]).
    pub width: u32,
    pub height: u32,
    /// Scalar files: the quality the file was made at (0 ..= 100); VQ files:
    /// the rate level, an index into [`crate::model::vq::LEVELS`].
    pub quality: u8,
    /// Tile side in pixels (a multiple of 64); tiles are coded independently.
    pub tile: u32,
    /// The backend that encoded the file (informational).
    pub producer: Producer,
    /// Whether an alpha plane follows the tiles (format version 2 on).
    pub alpha: bool,
    /// Version 3 on; version 1 and 2 files are [`Kind::Scalar`].
    pub kind: Kind,
}

/// Whether `width`×`height` is inside [`MAX_SIDE`] and [`MAX_PIXELS`].
pub fn size_ok(width: u32, height: u32) -> bool {
    (1..=MAX_SIDE).contains(&width) && (1..=MAX_SIDE).contains(&height) && width as u64 * height as u64 <= MAX_PIXELS
}

/// One tile of a picture: (x0, y0, width, height) in pixels.
pub type Tile = (u32, u32, u32, u32);

impl Header {
    /// The tiles of this picture, as [`tiles`].
    pub fn tiles(&self) -> impl Iterator<Item = Tile> + use<> {
        tiles(self.width, self.height, self.tile)
    }
}

/// The tiles of a `width`×`height` picture with tile side `tile`, row-major:
/// (x0, y0, w, h) in pixels.
pub fn tiles(width: u32, height: u32, tile: u32) -> impl Iterator<Item = Tile> {
    let (t, w, h) = (tile, width, height);
    (0..h.div_ceil(t))
        .flat_map(move |ty| (0..w.div_ceil(t)).map(move |tx| (tx * t, ty * t, t.min(w - tx * t), t.min(h - ty * t))))
}

/// One rANS-coded stream: its lanes' bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Segment<'a> {
    /// One byte stream per lane; symbol i of the stream is in lane i mod G.
    pub lanes: Vec<&'a [u8]>,
}

/// Writes a `.livc` image file: the header, then segments (and an alpha
/// plane), then the CRC32 on [`Writer::finish`].
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// A writer that has written the header `h` (format version 2 for
    /// [`Kind::Scalar`], 3 otherwise); the caller checks the name length.
    pub fn new(h: &Header) -> Self {
        let mut buf = Vec::new();
        buf.extend_from_slice(MAGIC);
        buf.push(if h.kind == Kind::Scalar { VERSION } else { VERSION_KIND });
        buf.push(h.producer as u8);
        buf.push(h.model_name.len() as u8);
        buf.extend_from_slice(h.model_name.as_bytes());
        buf.extend_from_slice(&h.model_hash);
        buf.extend_from_slice(&h.width.to_le_bytes());
        buf.extend_from_slice(&h.height.to_le_bytes());
        buf.push(h.quality);
        buf.extend_from_slice(&h.tile.to_le_bytes());
        buf.push(h.alpha as u8);
        if h.kind != Kind::Scalar {
            buf.push(h.kind as u8);
        }
        Self { buf }
    }

    /// A writer of segments only, without a header or CRC (a clip frame's
    /// payload: the clip container has its own); see [`Writer::into_bytes`].
    pub fn bare() -> Self {
        Self { buf: Vec::new() }
    }

    /// The bytes written, without a CRC.
    pub fn into_bytes(self) -> Vec<u8> {
        self.buf
    }

    /// One byte (a clip tile's coding mode).
    pub fn byte(&mut self, b: u8) {
        self.buf.push(b);
    }

    /// The alpha plane's coded bytes, after the last tile (only when the
    /// header says there is one).
    pub fn alpha(&mut self, coded: &[u8]) {
        self.buf.extend_from_slice(&(coded.len() as u32).to_le_bytes());
        self.buf.extend_from_slice(coded);
    }

    /// One segment: the lane count (u16), each lane's byte length (u32), then
    /// the lanes' bytes, all little-endian.
    pub fn segment(&mut self, lanes: &[Vec<u8>]) {
        self.buf.extend_from_slice(&(lanes.len() as u16).to_le_bytes());
        for lane in lanes {
            self.buf.extend_from_slice(&(lane.len() as u32).to_le_bytes());
        }
        for lane in lanes {
            self.buf.extend_from_slice(lane);
        }
    }

    /// The file's bytes: everything written, then their CRC32 (IEEE).
    pub fn finish(mut self) -> Vec<u8> {
        let crc = crc32fast::hash(&self.buf);
        self.buf.extend_from_slice(&crc.to_le_bytes());
        self.buf
    }
}

/// Parses a `.livc` image file ([`Reader::open`]) or a clip frame's payload
/// ([`Reader::bare`]), validating every field before it is used.
pub struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl FormatError {
    /// Why data that does not start with [`MAGIC`] is not a livc file:
    /// [`FormatError::Empty`] when there is none, else [`FormatError::BadMagic`].
    pub fn not_livc(head: &[u8]) -> Self {
        if head.is_empty() { FormatError::Empty } else { FormatError::BadMagic }
    }
}

impl<'a> Reader<'a> {
    /// Checks magic, version and checksum, and parses the header.
    pub fn open(file: &'a [u8]) -> Result<(Header, Self), FormatError> {
        if !file.starts_with(MAGIC) {
            return Err(FormatError::not_livc(file));
        }
        if file.len() < 5 {
            return Err(FormatError::Truncated("header"));
        }
        let version = file[4];
        if !(1..=VERSION_KIND).contains(&version) {
            return Err(FormatError::BadVersion(file[4]));
        }
        if file.len() < 9 {
            return Err(FormatError::Truncated("header"));
        }
        let (body, crc) = file.split_at(file.len() - 4);
        if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().unwrap()) {
            return Err(FormatError::BadChecksum);
        }
        let mut r = Reader { data: body, pos: 5 };
        let producer = match r.u8("header")? {
            0 => Producer::Cpu,
            1 => Producer::Wgpu,
            _ => return Err(FormatError::Corrupt("unknown producer")),
        };
        let name_len = r.u8("header")? as usize;
        let model_name = String::from_utf8(r.bytes(name_len, "model name")?.to_vec())
            .map_err(|_| FormatError::Corrupt("model name is not UTF-8"))?;
        let model_hash: [u8; 8] = r.bytes(8, "model hash")?.try_into().unwrap();
        let width = r.u32("header")?;
        let height = r.u32("header")?;
        if !size_ok(width, height) {
            return Err(FormatError::BadSize(width, height));
        }
        let quality = r.u8("header")?;
        let tile = r.u32("header")?;
        if tile == 0 || tile % 64 != 0 || tile > MAX_SIDE {
            return Err(FormatError::Corrupt("bad tile size"));
        }
        let alpha = match if version == 1 { 0 } else { r.u8("header")? } {
            0 => false,
            1 => true,
            _ => return Err(FormatError::Corrupt("unknown planes byte")),
        };
        let kind = match if version < VERSION_KIND { 0 } else { r.u8("header")? } {
            0 => Kind::Scalar,
            1 => Kind::Vq,
            _ => return Err(FormatError::Corrupt("unknown model kind")),
        };
        let header = Header { model_name, model_hash, width, height, quality, tile, producer, alpha, kind };
        Ok((header, r))
    }

    /// A reader of segments only (a clip frame's payload, already checked
    /// by the clip container's CRC).
    pub fn bare(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    /// One byte (a clip tile's coding mode).
    pub fn byte(&mut self) -> Result<u8, FormatError> {
        self.u8("tile mode")
    }

    /// The next segment's lanes, borrowed from the file. Errors: a truncated
    /// lane table, a lane count outside 1 ..= [`MAX_LANES`], lanes past the
    /// end of the data.
    pub fn segment(&mut self) -> Result<Segment<'a>, FormatError> {
        let count = u16::from_le_bytes(self.bytes(2, "lane table")?.try_into().unwrap()) as usize;
        if count == 0 || count > MAX_LANES {
            return Err(FormatError::Corrupt("bad lane count"));
        }
        let table = self.bytes(4 * count, "lane table")?;
        let lengths: Vec<usize> =
            table.chunks_exact(4).map(|c| u32::from_le_bytes(c.try_into().unwrap()) as usize).collect();
        let total =
            lengths.iter().try_fold(0usize, |a, &l| a.checked_add(l)).ok_or(FormatError::Corrupt("lane sizes"))?;
        if total > self.data.len() - self.pos {
            return Err(FormatError::Truncated("lane data"));
        }
        let mut lanes = Vec::with_capacity(count);
        for len in lengths {
            lanes.push(self.bytes(len, "lane data")?);
        }
        Ok(Segment { lanes })
    }

    /// The alpha plane's coded bytes (call after the last tile's segments).
    pub fn alpha(&mut self) -> Result<&'a [u8], FormatError> {
        let len = self.u32("alpha plane")? as usize;
        self.bytes(len, "alpha plane")
    }

    /// Fails if bytes are left over after the last segment.
    pub fn finish(&self) -> Result<(), FormatError> {
        if self.pos != self.data.len() {
            return Err(FormatError::Corrupt("trailing bytes after the last tile"));
        }
        Ok(())
    }

    fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], FormatError> {
        let end = self.pos.checked_add(n).filter(|&e| e <= self.data.len()).ok_or(FormatError::Truncated(what))?;
        let s = &self.data[self.pos..end];
        self.pos = end;
        Ok(s)
    }

    fn u8(&mut self, what: &'static str) -> Result<u8, FormatError> {
        Ok(self.bytes(1, what)?[0])
    }

    fn u32(&mut self, what: &'static str) -> Result<u32, FormatError> {
        Ok(u32::from_le_bytes(self.bytes(4, what)?.try_into().unwrap()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> Header {
        Header {
            model_name: "test".into(),
            model_hash: [1, 2, 3, 4, 5, 6, 7, 8],
            width: 100,
            height: 70,
            quality: 3,
            tile: 64,
            producer: Producer::Cpu,
            alpha: false,
            kind: Kind::Scalar,
        }
    }

    #[test]
    fn a_vq_file_is_version_3_with_its_kind() {
        let mut w = Writer::new(&Header { kind: Kind::Vq, ..header() });
        w.segment(&[vec![5]]);
        let file = w.finish();
        assert_eq!(file[4], VERSION_KIND);
        let (h, mut r) = Reader::open(&file).unwrap();
        assert_eq!(h.kind, Kind::Vq);
        r.segment().unwrap();
        r.finish().unwrap();
        assert_eq!(Writer::new(&header()).finish()[4], VERSION, "scalar files stay version 2");
        // An unknown kind is refused.
        let mut bad = file[..file.len() - 4].to_vec();
        let kind_at = 4 + 1 + 1 + 1 + 4 + 8 + 4 + 4 + 1 + 4 + 1;
        bad[kind_at] = 7;
        let crc = crc32fast::hash(&bad);
        bad.extend_from_slice(&crc.to_le_bytes());
        assert_eq!(Reader::open(&bad).err(), Some(FormatError::Corrupt("unknown model kind")));
    }

    #[test]
    fn model_names_up_to_255_bytes_fit_a_header() {
        assert_eq!(check_model_name(&"é".repeat(127)), Ok(()));
        assert_eq!(check_model_name(&"m".repeat(255)), Ok(()));
        assert_eq!(check_model_name(&"é".repeat(128)), Err(FormatError::NameTooLong(256)));
    }

    #[test]
    fn header_and_segments_round_trip() {
        let mut w = Writer::new(&header());
        w.segment(&[vec![1, 2, 3], vec![], vec![9]]);
        let file = w.finish();
        let (h, mut r) = Reader::open(&file).unwrap();
        assert_eq!(h, header());
        assert_eq!(r.segment().unwrap().lanes, vec![&[1u8, 2, 3][..], &[][..], &[9u8][..]]);
        r.finish().unwrap();
        assert_eq!(h.tiles().count(), 4);
    }

    #[test]
    fn alpha_plane_round_trips_and_version_1_still_reads() {
        let mut w = Writer::new(&Header { alpha: true, ..header() });
        w.segment(&[vec![5]]);
        w.alpha(&[1, 2, 3, 4]);
        let file = w.finish();
        let (h, mut r) = Reader::open(&file).unwrap();
        assert!(h.alpha);
        r.segment().unwrap();
        assert_eq!(r.alpha().unwrap(), &[1, 2, 3, 4]);
        r.finish().unwrap();

        // A version-1 file: no planes byte.
        let mut w = Writer::new(&header());
        w.segment(&[vec![5]]);
        let mut v1 = w.finish();
        v1.truncate(v1.len() - 4);
        v1[4] = 1;
        let planes_at = 4 + 1 + 1 + 1 + 4 + 8 + 4 + 4 + 1 + 4;
        assert_eq!(v1.remove(planes_at), 0);
        let crc = crc32fast::hash(&v1);
        v1.extend_from_slice(&crc.to_le_bytes());
        let (h, mut r) = Reader::open(&v1).unwrap();
        assert_eq!(h, header());
        assert_eq!(r.segment().unwrap().lanes, vec![&[5u8][..]]);
        r.finish().unwrap();
    }

    #[test]
    fn sizes_above_the_pixel_limit_are_refused() {
        assert!(size_ok(MAX_SIDE, (MAX_PIXELS / MAX_SIDE as u64) as u32));
        assert!(!size_ok(MAX_SIDE, MAX_SIDE));
        let file = Writer::new(&Header { width: MAX_SIDE, height: MAX_SIDE, ..header() }).finish();
        assert_eq!(Reader::open(&file).err(), Some(FormatError::BadSize(MAX_SIDE, MAX_SIDE)));
    }

    #[test]
    fn every_truncation_is_an_error() {
        let mut w = Writer::new(&header());
        w.segment(&[vec![7; 20]]);
        let file = w.finish();
        for len in 0..file.len() {
            assert!(Reader::open(&file[..len]).is_err(), "length {len}");
        }
    }
}
