//! The `.livc` clip container (magic `LIVV`; docs/FORMAT.md, "Clips"): a
//! sequence header, then one record per frame, then an end record.
//!
//! Records are read one at a time from a stream, so decoding holds one
//! frame's bytes. Each record carries its own CRC32, and its length is
//! checked against [`max_frame_bytes`] before anything is read into memory;
//! the payload is read as it arrives, never allocated from the declared length.

use std::io::{Read, Write};

use super::{FormatError, MAX_SIDE, Producer, size_ok};

/// The first 4 bytes of a `.livc` clip file (images start with
/// [`super::MAGIC`]).
pub const CLIP_MAGIC: &[u8; 4] = b"LIVV";
/// 2: the header names the temporal prior (P-frames of version 1 coded the
/// plain residual with the image hyperprior, and are no longer read).
pub const CLIP_VERSION: u8 = 2;
/// Most frames a clip header may declare (2^24: over six days at 30 fps).
pub const MAX_FRAMES: u32 = 1 << 24;
/// Longest intra period (frames between I-frames).
pub const MAX_GOP: u32 = 1 << 16;
/// Largest numerator or denominator of a frame rate.
pub const MAX_RATE_TERM: u32 = 1 << 20;

/// A frame's coding type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FrameKind {
    /// Coded on its own with the image codec: a reader can start here.
    Intra,
    /// Coded with the previous frame's decoded latent as its reference.
    Inter,
}

impl FrameKind {
    fn byte(self) -> u8 {
        match self {
            FrameKind::Intra => b'I',
            FrameKind::Inter => b'P',
        }
    }

    /// The record's type letter: `I` or `P`.
    pub fn letter(self) -> char {
        self.byte() as char
    }
}

const END: u8 = b'E';

/// The sequence header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClipHeader {
    /// The image model's name (UTF-8, at most [`super::MAX_MODEL_NAME`] bytes).
    pub model_name: String,
    /// First 8 bytes of the SHA-256 of the model package, as for images.
    pub model_hash: [u8; 8],
    /// The temporal package its P-frames need (first 8 bytes of its
    /// SHA-256; zeros for an all-intra clip, `gop` 1).
    pub temporal_hash: [u8; 8],
    /// Frame size in pixels.
    pub width: u32,
    pub height: u32,
    /// Frames per second as `rate_num / rate_den`.
    pub rate_num: u32,
    pub rate_den: u32,
    /// Frames in the clip; 0 when the writer could not know (streamed to a
    /// pipe). The end record always has the count.
    pub frames: u32,
    /// Intra period the encoder used: an I-frame every `gop` frames.
    pub gop: u32,
    /// The quality the clip was made at, as for images.
    pub quality: u8,
    /// Tile side in pixels, as for images.
    pub tile: u32,
    /// YUV matrix (H.273 `matrix_coefficients`: 1 BT.709, 6 BT.601) and
    /// range (0 limited, 1 full) of the source, used again for YUV output.
    pub matrix: u8,
    /// Whether the source's YUV is full range (else limited: 16–235 luma,
    /// 16–240 chroma).
    pub full_range: bool,
    /// The backend that encoded the clip (informational).
    pub producer: Producer,
}

impl ClipHeader {
    /// The header's bytes, with its CRC32.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut b = Vec::new();
        b.extend_from_slice(CLIP_MAGIC);
        b.push(CLIP_VERSION);
        b.push(self.producer as u8);
        b.push(self.model_name.len() as u8);
        b.extend_from_slice(self.model_name.as_bytes());
        b.extend_from_slice(&self.model_hash);
        b.extend_from_slice(&self.temporal_hash);
        for v in [self.width, self.height, self.rate_num, self.rate_den, self.frames, self.gop] {
            b.extend_from_slice(&v.to_le_bytes());
        }
        b.push(self.quality);
        b.extend_from_slice(&self.tile.to_le_bytes());
        b.push(self.matrix);
        b.push(self.full_range as u8);
        let crc = crc32fast::hash(&b);
        b.extend_from_slice(&crc.to_le_bytes());
        b
    }

    /// The tiles of a frame, as for images.
    pub fn tiles(&self) -> impl Iterator<Item = super::Tile> + use<> {
        super::tiles(self.width, self.height, self.tile)
    }
}

/// Most bytes one frame's record may hold: 8 bytes per pixel plus 1 MiB,
/// far above what any frame codes to (a raw RGB frame is 3 bytes per pixel).
pub fn max_frame_bytes(width: u32, height: u32) -> u64 {
    8 * width as u64 * height as u64 + (1 << 20)
}

/// Appends one frame's record.
pub fn write_frame(out: &mut impl Write, kind: FrameKind, payload: &[u8]) -> std::io::Result<()> {
    let mut head = vec![kind.byte()];
    head.extend_from_slice(&(payload.len() as u32).to_le_bytes());
    let mut crc = crc32fast::Hasher::new();
    crc.update(&head);
    crc.update(payload);
    out.write_all(&head)?;
    out.write_all(payload)?;
    out.write_all(&crc.finalize().to_le_bytes())
}

/// Appends the end record: the number of frames written.
pub fn write_end(out: &mut impl Write, frames: u32) -> std::io::Result<()> {
    let mut b = vec![END];
    b.extend_from_slice(&frames.to_le_bytes());
    let crc = crc32fast::hash(&b);
    b.extend_from_slice(&crc.to_le_bytes());
    out.write_all(&b)
}

/// One record of a clip, as read.
#[derive(Debug, PartialEq, Eq)]
pub struct FrameRecord {
    pub kind: FrameKind,
    /// The frame's payload (per tile: mode byte, z and y segments), CRC checked.
    pub payload: Vec<u8>,
}

/// Reads a clip's records in order from a stream.
pub struct ClipReader<R: Read> {
    input: R,
    header: ClipHeader,
    frames: u32,
    ended: bool,
}

fn read_exact<R: Read>(r: &mut R, n: usize, what: &'static str) -> Result<Vec<u8>, FormatError> {
    let mut buf = Vec::new();
    r.take(n as u64).read_to_end(&mut buf).map_err(|_| FormatError::Truncated(what))?;
    if buf.len() != n {
        return Err(FormatError::Truncated(what));
    }
    Ok(buf)
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

impl<R: Read> ClipReader<R> {
    /// Reads and validates the header; `input` is positioned at its start
    /// (the magic included).
    pub fn open(mut input: R) -> Result<(ClipHeader, Self), FormatError> {
        let start = read_exact(&mut input, 7, "clip header")?;
        if &start[..4] != CLIP_MAGIC {
            return Err(FormatError::BadMagic);
        }
        if start[4] != CLIP_VERSION {
            return Err(FormatError::BadClipVersion(start[4]));
        }
        let name_len = start[6] as usize;
        // hash 8, temporal hash 8, six u32, quality 1, tile 4, matrix 1, range 1, crc 4
        let rest = read_exact(&mut input, name_len + 16 + 24 + 1 + 4 + 2 + 4, "clip header")?;
        let (body, crc) = rest.split_at(rest.len() - 4);
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&start);
        hasher.update(body);
        if hasher.finalize() != u32::from_le_bytes(crc.try_into().unwrap()) {
            return Err(FormatError::BadChecksum);
        }
        let producer = match start[5] {
            0 => Producer::Cpu,
            1 => Producer::Wgpu,
            _ => return Err(FormatError::Corrupt("unknown producer")),
        };
        let model_name = String::from_utf8(body[..name_len].to_vec())
            .map_err(|_| FormatError::Corrupt("model name is not UTF-8"))?;
        let model_hash: [u8; 8] = body[name_len..name_len + 8].try_into().unwrap();
        let temporal_hash: [u8; 8] = body[name_len + 8..name_len + 16].try_into().unwrap();
        let b = &body[name_len + 8..];
        let [width, height, rate_num, rate_den, frames, gop] = std::array::from_fn(|i| u32_at(b, 8 + 4 * i));
        let (quality, tile, matrix, range) = (b[32], u32_at(b, 33), b[37], b[38]);
        if !size_ok(width, height) {
            return Err(FormatError::BadSize(width, height));
        }
        if !(1..=MAX_RATE_TERM).contains(&rate_num) || !(1..=MAX_RATE_TERM).contains(&rate_den) {
            return Err(FormatError::Corrupt("bad frame rate"));
        }
        if frames > MAX_FRAMES {
            return Err(FormatError::TooManyFrames(frames));
        }
        if !(1..=MAX_GOP).contains(&gop) {
            return Err(FormatError::Corrupt("bad intra period"));
        }
        if tile == 0 || tile % 64 != 0 || tile > MAX_SIDE {
            return Err(FormatError::Corrupt("bad tile size"));
        }
        if matrix != 1 && matrix != 6 {
            return Err(FormatError::Corrupt("unknown colour matrix"));
        }
        if range > 1 {
            return Err(FormatError::Corrupt("unknown colour range"));
        }
        let header = ClipHeader {
            model_name,
            model_hash,
            temporal_hash,
            width,
            height,
            rate_num,
            rate_den,
            frames,
            gop,
            quality,
            tile,
            matrix,
            full_range: range == 1,
            producer,
        };
        Ok((header.clone(), ClipReader { input, header, frames: 0, ended: false }))
    }

    /// The next frame's record, or `None` after the end record (whose count
    /// must match the frames read, at least one, and the header's count when
    /// it has one).
    ///
    /// Errors: truncation (no end record), a bad CRC, a length above
    /// [`max_frame_bytes`], a first frame that is not an I-frame, a P-frame
    /// in a clip of GOP 1, more frames than the header declares or [`MAX_FRAMES`].
    pub fn next_frame(&mut self) -> Result<Option<FrameRecord>, FormatError> {
        if self.ended {
            return Ok(None);
        }
        let kind = read_exact(&mut self.input, 1, "frame record")?[0];
        if kind == END {
            let rest = read_exact(&mut self.input, 8, "end record")?;
            let crc = crc32fast::hash(&[&[END][..], &rest[..4]].concat());
            if crc != u32_at(&rest, 4) {
                return Err(FormatError::BadChecksum);
            }
            let count = u32_at(&rest, 0);
            if count == 0 {
                return Err(FormatError::Corrupt("a clip without frames"));
            }
            if count != self.frames || (self.header.frames != 0 && count != self.header.frames) {
                return Err(FormatError::Corrupt("frame count does not match the frames present"));
            }
            self.ended = true;
            let mut extra = [0u8; 1];
            if self.input.read(&mut extra).map_err(|_| FormatError::Truncated("end record"))? != 0 {
                return Err(FormatError::Corrupt("trailing bytes after the end record"));
            }
            return Ok(None);
        }
        let kind = match kind {
            b'I' => FrameKind::Intra,
            b'P' => FrameKind::Inter,
            _ => return Err(FormatError::Corrupt("unknown frame type")),
        };
        if kind == FrameKind::Inter && self.frames == 0 {
            return Err(FormatError::Corrupt("the first frame is not an I-frame"));
        }
        if kind == FrameKind::Inter && self.header.gop == 1 {
            return Err(FormatError::Corrupt("a P-frame in an all-intra clip (GOP 1)"));
        }
        let limit = if self.header.frames != 0 { self.header.frames } else { MAX_FRAMES };
        if self.frames >= limit {
            return Err(FormatError::Corrupt("more frames than the header declares"));
        }
        let len = u32::from_le_bytes(read_exact(&mut self.input, 4, "frame record")?.try_into().unwrap());
        if len as u64 > max_frame_bytes(self.header.width, self.header.height) {
            return Err(FormatError::Corrupt("frame record longer than any frame of this size"));
        }
        let payload = read_exact(&mut self.input, len as usize, "frame data")?;
        let crc = read_exact(&mut self.input, 4, "frame record")?;
        let mut hasher = crc32fast::Hasher::new();
        hasher.update(&[kind.byte()]);
        hasher.update(&len.to_le_bytes());
        hasher.update(&payload);
        if hasher.finalize() != u32::from_le_bytes(crc.try_into().unwrap()) {
            return Err(FormatError::BadFrameChecksum(self.frames));
        }
        self.frames += 1;
        Ok(Some(FrameRecord { kind, payload }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header() -> ClipHeader {
        ClipHeader {
            model_name: "m".into(),
            model_hash: [7; 8],
            temporal_hash: [9; 8],
            width: 100,
            height: 60,
            rate_num: 30000,
            rate_den: 1001,
            frames: 3,
            gop: 2,
            quality: 40,
            tile: 1024,
            matrix: 1,
            full_range: false,
            producer: Producer::Cpu,
        }
    }

    fn clip(h: &ClipHeader) -> Vec<u8> {
        let mut b = h.to_bytes();
        write_frame(&mut b, FrameKind::Intra, &[1, 2, 3]).unwrap();
        write_frame(&mut b, FrameKind::Inter, &[]).unwrap();
        write_frame(&mut b, FrameKind::Intra, &[9; 40]).unwrap();
        write_end(&mut b, 3).unwrap();
        b
    }

    fn read_all(b: &[u8]) -> Result<(ClipHeader, Vec<FrameRecord>), FormatError> {
        let (h, mut r) = ClipReader::open(b)?;
        let mut frames = vec![];
        while let Some(f) = r.next_frame()? {
            frames.push(f);
        }
        Ok((h, frames))
    }

    #[test]
    fn clips_round_trip_with_known_and_unknown_frame_counts() {
        for frames in [3, 0] {
            let h = ClipHeader { frames, ..header() };
            let (read, records) = read_all(&clip(&h)).unwrap();
            assert_eq!(read, h);
            let kinds: Vec<_> = records.iter().map(|r| r.kind.letter()).collect();
            assert_eq!(kinds, ['I', 'P', 'I']);
            assert_eq!(records[2].payload, vec![9; 40]);
        }
    }

    #[test]
    fn a_p_frame_in_an_all_intra_clip_and_an_empty_clip_are_corrupt() {
        let all_intra = ClipHeader { gop: 1, temporal_hash: [0; 8], frames: 0, ..header() };
        assert_eq!(
            read_all(&clip(&all_intra)).err(),
            Some(FormatError::Corrupt("a P-frame in an all-intra clip (GOP 1)"))
        );
        let mut b = all_intra.to_bytes();
        write_end(&mut b, 0).unwrap();
        assert_eq!(read_all(&b).err(), Some(FormatError::Corrupt("a clip without frames")));
        let mut b = all_intra.to_bytes();
        write_frame(&mut b, FrameKind::Intra, &[1]).unwrap();
        write_frame(&mut b, FrameKind::Intra, &[2]).unwrap();
        write_end(&mut b, 2).unwrap();
        assert_eq!(read_all(&b).unwrap().1.len(), 2);
    }

    #[test]
    fn every_truncation_and_every_flipped_byte_is_an_error() {
        let b = clip(&header());
        for len in 0..b.len() {
            assert!(read_all(&b[..len]).is_err(), "length {len}");
        }
        for i in 0..b.len() {
            let mut c = b.clone();
            c[i] ^= 0x10;
            assert!(read_all(&c).is_err(), "byte {i}");
        }
    }

    #[test]
    fn absurd_headers_are_refused_before_any_frame_is_read() {
        let e = |h: ClipHeader| ClipReader::open(&h.to_bytes()[..]).err();
        assert_eq!(
            e(ClipHeader { frames: 1_000_000_000, ..header() }),
            Some(FormatError::TooManyFrames(1_000_000_000))
        );
        assert_eq!(
            e(ClipHeader { width: 100_000, height: 100_000, ..header() }),
            Some(FormatError::BadSize(100_000, 100_000))
        );
        assert!(e(ClipHeader { rate_den: 0, ..header() }).is_some());
        assert!(e(ClipHeader { gop: 0, ..header() }).is_some());
        assert!(e(ClipHeader { matrix: 2, ..header() }).is_some());
    }

    #[test]
    fn a_huge_declared_frame_length_is_refused_without_allocating() {
        let mut b = header().to_bytes();
        b.push(b'I');
        b.extend_from_slice(&u32::MAX.to_le_bytes());
        let (_, mut r) = ClipReader::open(&b[..]).unwrap();
        assert!(matches!(r.next_frame(), Err(FormatError::Corrupt(_))));
        // Within the limit but absent: truncation, found without allocating the length.
        let mut b = header().to_bytes();
        b.push(b'I');
        b.extend_from_slice(&40_000u32.to_le_bytes());
        let (_, mut r) = ClipReader::open(&b[..]).unwrap();
        assert_eq!(r.next_frame(), Err(FormatError::Truncated("frame data")));
    }
}
