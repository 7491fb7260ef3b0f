//! forge-frame: the telemetry frame Forge's tools write into a slot's
//! payload, the checks that make a frame trustworthy, the sequence
//! verifier of a consumer, and the load generator that makes such frames.
//!
//! A ring carries bytes; this frame is a convention on top of it that
//! forge-stream writes and forge-core, forge-top, the recorder and the
//! bridge understand. Programs of your own may use it or not.
//!
//! ```text
//! 0        8          16         20       22         24           28          32
//! │ seq u64 │ ts_ns u64 │ source u32│kind u16│format u16│ body_len u32│ crc32 u32 │ body …
//! ```
//! All integers little-endian. The u16 at offset 22 tells the two formats
//! apart (see [`FrameFormat`]):
//!
//! - **format 2** (`2` there), what Forge writes: `crc32` is CRC-32 (IEEE)
//!   of the whole frame, header and body, with the `crc32` field itself
//!   read as zero, so a changed sequence, timestamp, source, kind or length
//!   is caught as surely as a changed body (one pass over contiguous bytes
//!   for the producer, which seals the frame with the field still zero);
//! - **format 1** (`0` there, the field was reserved): `crc32` covers the
//!   body only. Still read and verified as it always was.
//!
//! Decoding checks every field against the bytes it has and never panics.

#![deny(unsafe_code, missing_docs, missing_debug_implementations)]

use forge_fabric::PAYLOAD_CAPACITY;

pub mod load;
pub mod verify;

/// Bytes before the body.
pub const FRAME_HEADER_LEN: usize = 32;
/// Where the checksum field sits in the header (4 bytes, little-endian).
pub const CHECKSUM_OFFSET: usize = 28;
/// Largest body a frame can carry in one slot.
pub const MAX_BODY_LEN: usize = PAYLOAD_CAPACITY - FRAME_HEADER_LEN;

/// What a frame carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameKind {
    /// A metric sample.
    Metric,
    /// A log line.
    Log,
    /// A trace span.
    Span,
    /// A liveness ping.
    Ping,
    /// A kind this build does not know.
    Other(u16),
}

impl std::fmt::Display for FrameKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameKind::Other(c) => write!(f, "kind#{c}"),
            known => f.write_str(known.name()),
        }
    }
}

impl FrameKind {
    /// The wire value.
    pub const fn code(self) -> u16 {
        match self {
            FrameKind::Metric => 1,
            FrameKind::Log => 2,
            FrameKind::Span => 3,
            FrameKind::Ping => 4,
            FrameKind::Other(c) => c,
        }
    }

    /// From the wire value.
    pub const fn from_code(c: u16) -> Self {
        match c {
            1 => FrameKind::Metric,
            2 => FrameKind::Log,
            3 => FrameKind::Span,
            4 => FrameKind::Ping,
            c => FrameKind::Other(c),
        }
    }

    /// Short lower-case name; `other` for a kind this build does not know
    /// (its `Display` gives the code: `kind#7`).
    pub fn name(self) -> &'static str {
        match self {
            FrameKind::Metric => "metric",
            FrameKind::Log => "log",
            FrameKind::Span => "span",
            FrameKind::Ping => "ping",
            FrameKind::Other(_) => "other",
        }
    }
}

/// Which frame format a frame is, from the u16 at offset 22.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FrameFormat {
    /// `0` at offset 22: the checksum covers the body only.
    V1,
    /// `2` at offset 22: the checksum covers the header fields and the body.
    V2,
}

impl FrameFormat {
    /// The format Forge writes.
    pub const CURRENT: FrameFormat = FrameFormat::V2;

    /// The u16 at offset 22 that says this format.
    pub const fn code(self) -> u16 {
        match self {
            FrameFormat::V1 => 0,
            FrameFormat::V2 => 2,
        }
    }

    /// The format a u16 at offset 22 says, if it is one.
    pub const fn from_code(code: u16) -> Option<FrameFormat> {
        match code {
            0 => Some(FrameFormat::V1),
            2 => Some(FrameFormat::V2),
            _ => None,
        }
    }

    /// `1` or `2`, as people number them.
    pub const fn number(self) -> u8 {
        match self {
            FrameFormat::V1 => 1,
            FrameFormat::V2 => 2,
        }
    }
}

/// The fixed fields of a frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// Sequence number: the demo uses the ring position.
    pub sequence: u64,
    /// Producer's CLOCK_MONOTONIC ns when the frame was written.
    pub timestamp_ns: u64,
    /// Which source produced it.
    pub source_id: u32,
    /// What it carries.
    pub kind: FrameKind,
    /// Bytes of body that follow the header.
    pub body_len: u32,
    /// The checksum as written: of the body (format 1), or of the header
    /// fields and the body (format 2).
    pub checksum: u32,
    /// Which format the frame is.
    pub format: FrameFormat,
}

/// A decoded frame borrowing its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The fixed fields.
    pub header: FrameHeader,
    /// The body bytes (exactly `header.body_len`).
    pub body: &'a [u8],
}

/// Why bytes are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// Fewer bytes than a frame header.
    #[error("{len} bytes is shorter than a frame header ({FRAME_HEADER_LEN} bytes)")]
    Short {
        /// Bytes available.
        len: usize,
    },
    /// The header claims more body than the bytes hold.
    #[error("body length {body_len} does not match the {available} bytes after the header")]
    BodyLength {
        /// Claimed.
        body_len: u32,
        /// Available.
        available: usize,
    },
    /// The checksum does not match what it covers.
    #[error("checksum mismatch: header says {expected:#010x}, {} hashes to {found:#010x}", if *.format == FrameFormat::V1 { "body" } else { "header and body" })]
    Checksum {
        /// From the header.
        expected: u32,
        /// Computed.
        found: u32,
        /// The frame's format, which says what the checksum covers.
        format: FrameFormat,
    },
    /// The format field (offset 22) names no format this build knows.
    #[error("format field is {0:#06x}, expected 0 (format 1) or 2 (format 2)")]
    Reserved(u16),
    /// The body is too large for a slot.
    #[error("body of {0} bytes exceeds the {MAX_BODY_LEN} bytes a slot can carry")]
    TooLarge(usize),
}

/// CRC-32 (IEEE) of `body`: a format 1 frame's checksum.
#[inline]
pub fn checksum(body: &[u8]) -> u32 {
    crc32fast::hash(body)
}

/// CRC-32 (IEEE) of a whole `frame` (at least [`FRAME_HEADER_LEN`] bytes:
/// header and body) with its checksum field read as zero: a format 2
/// frame's checksum. The frame is not changed (it may be another process's
/// memory): the header is hashed from a copy.
#[inline]
pub fn checksum_v2(frame: &[u8]) -> u32 {
    let mut header = [0u8; FRAME_HEADER_LEN];
    header[..CHECKSUM_OFFSET].copy_from_slice(&frame[..CHECKSUM_OFFSET]);
    let mut h = crc32fast::Hasher::new();
    h.update(&header);
    h.update(&frame[FRAME_HEADER_LEN..]);
    h.finalize()
}

/// The checksum `frame` (a whole frame: header and body) should carry in
/// `format`.
fn checksum_of(frame: &[u8], format: FrameFormat) -> u32 {
    match format {
        FrameFormat::V1 => checksum(&frame[FRAME_HEADER_LEN..]),
        FrameFormat::V2 => checksum_v2(frame),
    }
}

/// Writes `frame`'s checksum for `format`. Format 2 zeroes the field first
/// and hashes the frame in one pass over its contiguous bytes: the same
/// value as [`checksum_v2`], for less work on the producer's side.
#[inline]
fn seal(frame: &mut [u8], format: FrameFormat) {
    let crc = match format {
        FrameFormat::V1 => checksum(&frame[FRAME_HEADER_LEN..]),
        FrameFormat::V2 => {
            frame[CHECKSUM_OFFSET..FRAME_HEADER_LEN].fill(0);
            crc32fast::hash(frame)
        }
    };
    frame[CHECKSUM_OFFSET..FRAME_HEADER_LEN].copy_from_slice(&crc.to_le_bytes());
}

/// Writes a frame (the current format, 2) with `body` into `out`; returns
/// the frame's total length.
pub fn encode(
    out: &mut [u8],
    sequence: u64,
    timestamp_ns: u64,
    source_id: u32,
    kind: FrameKind,
    body: &[u8],
) -> Result<usize, FrameError> {
    if body.len() > MAX_BODY_LEN {
        return Err(FrameError::TooLarge(body.len()));
    }
    let total = FRAME_HEADER_LEN + body.len();
    if out.len() < total {
        return Err(FrameError::Short { len: out.len() });
    }
    out[FRAME_HEADER_LEN..total].copy_from_slice(body);
    write_header(out, sequence, timestamp_ns, source_id, kind, body.len())?;
    Ok(total)
}

/// Writes the header (the current format, 2) for a body already in place at
/// `out[FRAME_HEADER_LEN..FRAME_HEADER_LEN + body_len]` (zero-copy encoding).
#[inline]
pub fn write_header(
    out: &mut [u8],
    sequence: u64,
    timestamp_ns: u64,
    source_id: u32,
    kind: FrameKind,
    body_len: usize,
) -> Result<usize, FrameError> {
    write_header_as(
        FrameFormat::CURRENT,
        out,
        sequence,
        timestamp_ns,
        source_id,
        kind,
        body_len,
    )
}

/// [`write_header`] in a chosen format: format 1 only to make frames as an
/// older producer would (tests, compatibility).
#[inline]
pub fn write_header_as(
    format: FrameFormat,
    out: &mut [u8],
    sequence: u64,
    timestamp_ns: u64,
    source_id: u32,
    kind: FrameKind,
    body_len: usize,
) -> Result<usize, FrameError> {
    if body_len > MAX_BODY_LEN {
        return Err(FrameError::TooLarge(body_len));
    }
    let total = FRAME_HEADER_LEN + body_len;
    let Some(frame) = out.get_mut(..total) else {
        return Err(FrameError::Short { len: out.len() });
    };
    frame[0..8].copy_from_slice(&sequence.to_le_bytes());
    frame[8..16].copy_from_slice(&timestamp_ns.to_le_bytes());
    frame[16..20].copy_from_slice(&source_id.to_le_bytes());
    frame[20..22].copy_from_slice(&kind.code().to_le_bytes());
    frame[22..24].copy_from_slice(&format.code().to_le_bytes());
    frame[24..28].copy_from_slice(&(body_len as u32).to_le_bytes());
    seal(frame, format);
    Ok(total)
}

/// Rewrites a frame's sequence and (with `Some`) timestamp in place, as a
/// replay does, keeping its checksum true in format 2 (which covers them).
/// A frame that did not verify before stays unverifiable: its checksum is
/// not recomputed, so a replay never turns a corrupt frame into a sound
/// one. Returns whether the frame verified.
pub fn restamp(frame: &mut [u8], sequence: u64, timestamp_ns: Option<u64>) -> bool {
    let sound = decode(frame).is_ok();
    if frame.len() < FRAME_HEADER_LEN {
        return false;
    }
    frame[0..8].copy_from_slice(&sequence.to_le_bytes());
    if let Some(ts) = timestamp_ns {
        frame[8..16].copy_from_slice(&ts.to_le_bytes());
    }
    if sound {
        if let Some(format @ FrameFormat::V2) = FrameFormat::from_code(le::u16_at(frame, 22)) {
            seal(frame, format);
        }
    }
    sound
}

/// Little-endian integers at fixed offsets of a byte slice: the frame's
/// fields, and those of the records that carry frames (forge-record's
/// codec). The caller has checked the slice is long enough; a shorter one
/// is a bug, and panics.
///
/// ```
/// use forge_frame::le;
///
/// let b = [1, 0, 2, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0];
/// assert_eq!((le::u16_at(&b, 0), le::u32_at(&b, 2), le::u64_at(&b, 6)), (1, 2, 3));
/// ```
pub mod le {
    /// The `u64` at `b[at..at + 8]`.
    pub fn u64_at(b: &[u8], at: usize) -> u64 {
        u64::from_le_bytes(array(b, at))
    }

    /// The `u32` at `b[at..at + 4]`.
    pub fn u32_at(b: &[u8], at: usize) -> u32 {
        u32::from_le_bytes(array(b, at))
    }

    /// The `u16` at `b[at..at + 2]`.
    pub fn u16_at(b: &[u8], at: usize) -> u16 {
        u16::from_le_bytes(array(b, at))
    }

    fn array<const N: usize>(b: &[u8], at: usize) -> [u8; N] {
        let mut a = [0; N];
        a.copy_from_slice(&b[at..at + N]);
        a
    }
}

/// Reads the fixed fields without checking the body.
pub fn decode_header(bytes: &[u8]) -> Result<FrameHeader, FrameError> {
    if bytes.len() < FRAME_HEADER_LEN {
        return Err(FrameError::Short { len: bytes.len() });
    }
    let code = le::u16_at(bytes, 22);
    let Some(format) = FrameFormat::from_code(code) else {
        return Err(FrameError::Reserved(code));
    };
    Ok(FrameHeader {
        sequence: le::u64_at(bytes, 0),
        timestamp_ns: le::u64_at(bytes, 8),
        source_id: le::u32_at(bytes, 16),
        kind: FrameKind::from_code(le::u16_at(bytes, 20)),
        body_len: le::u32_at(bytes, 24),
        checksum: le::u32_at(bytes, 28),
        format,
    })
}

/// Decodes and verifies a whole frame: the body length must match the bytes
/// exactly and the checksum must hold (over the body in format 1, over the
/// header fields and the body in format 2).
pub fn decode(bytes: &[u8]) -> Result<Frame<'_>, FrameError> {
    let header = decode_header(bytes)?;
    let available = bytes.len() - FRAME_HEADER_LEN;
    if header.body_len as usize != available {
        return Err(FrameError::BodyLength {
            body_len: header.body_len,
            available,
        });
    }
    let found = checksum_of(bytes, header.format);
    if found != header.checksum {
        return Err(FrameError::Checksum {
            expected: header.checksum,
            found,
            format: header.format,
        });
    }
    Ok(Frame {
        header,
        body: &bytes[FRAME_HEADER_LEN..],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_frame_round_trips() {
        let mut buf = [0u8; PAYLOAD_CAPACITY];
        let n = encode(&mut buf, 7, 99, 3, FrameKind::Log, b"hello").unwrap();
        let f = decode(&buf[..n]).unwrap();
        assert_eq!(f.header.sequence, 7);
        assert_eq!(f.header.timestamp_ns, 99);
        assert_eq!(f.header.source_id, 3);
        assert_eq!(f.header.kind, FrameKind::Log);
        assert_eq!(f.body, b"hello");
    }

    #[test]
    fn a_flipped_body_bit_fails_the_checksum() {
        let mut buf = [0u8; 64];
        let n = encode(&mut buf, 1, 2, 3, FrameKind::Metric, b"abcdef").unwrap();
        buf[FRAME_HEADER_LEN + 2] ^= 1;
        assert!(matches!(
            decode(&buf[..n]),
            Err(FrameError::Checksum { .. })
        ));
    }

    #[test]
    fn a_changed_header_field_fails_a_format_2_frame_and_not_a_format_1_one() {
        // (offset, width) of sequence, timestamp, source, kind.
        for (at, width) in [(0, 8), (8, 8), (16, 4), (20, 2)] {
            let mut v2 = [0u8; 64];
            let n = encode(&mut v2, 1, 2, 3, FrameKind::Metric, b"abcdef").unwrap();
            assert_eq!(decode_header(&v2).unwrap().format, FrameFormat::V2);
            v2[at + width - 1] ^= 0x07;
            assert!(
                matches!(
                    decode(&v2[..n]),
                    Err(FrameError::Checksum {
                        format: FrameFormat::V2,
                        ..
                    })
                ),
                "field at {at}"
            );
            let mut v1 = [0u8; 64];
            write_header_as(FrameFormat::V1, &mut v1, 1, 2, 3, FrameKind::Metric, 0).unwrap();
            v1[at + width - 1] ^= 0x07;
            assert!(
                decode(&v1[..FRAME_HEADER_LEN]).is_ok(),
                "format 1 as always"
            );
        }
    }

    #[test]
    fn a_format_2_checksum_is_the_crc_of_the_whole_frame_with_its_field_zero() {
        let mut buf = [0u8; 64];
        let n = encode(&mut buf, 5, 6, 7, FrameKind::Log, b"the body").unwrap();
        let mut zeroed = buf[..n].to_vec();
        zeroed[CHECKSUM_OFFSET..FRAME_HEADER_LEN].fill(0);
        let expected = crc32fast::hash(&zeroed);
        assert_eq!(le::u32_at(&buf, CHECKSUM_OFFSET), expected);
        assert_eq!(checksum_v2(&buf[..n]), expected);
        // Reading the checksum leaves the frame as it was.
        assert_eq!(le::u32_at(&buf, CHECKSUM_OFFSET), expected);
    }

    #[test]
    fn format_1_frames_still_verify_their_body() {
        let mut buf = [0u8; 64];
        buf[FRAME_HEADER_LEN..FRAME_HEADER_LEN + 3].copy_from_slice(b"abc");
        let n = write_header_as(FrameFormat::V1, &mut buf, 9, 8, 7, FrameKind::Log, 3).unwrap();
        assert_eq!(&buf[22..24], &[0, 0]);
        assert_eq!(le::u32_at(&buf, 28), checksum(b"abc"));
        let f = decode(&buf[..n]).unwrap();
        assert_eq!((f.header.format, f.header.sequence), (FrameFormat::V1, 9));
        buf[FRAME_HEADER_LEN] ^= 1;
        assert!(matches!(
            decode(&buf[..n]),
            Err(FrameError::Checksum {
                format: FrameFormat::V1,
                ..
            })
        ));
    }

    #[test]
    fn an_unknown_format_is_refused_by_name() {
        let mut buf = [0u8; 64];
        let n = encode(&mut buf, 1, 2, 3, FrameKind::Metric, b"x").unwrap();
        buf[22] = 1;
        let e = decode(&buf[..n]).unwrap_err();
        assert_eq!(e, FrameError::Reserved(1));
        assert!(e
            .to_string()
            .contains("expected 0 (format 1) or 2 (format 2)"));
    }

    #[test]
    fn restamping_keeps_a_sound_frame_sound_and_a_corrupt_one_corrupt() {
        let mut buf = [0u8; 64];
        let n = encode(&mut buf, 1, 2, 3, FrameKind::Span, b"body").unwrap();
        assert!(restamp(&mut buf[..n], 77, Some(88)));
        let f = decode(&buf[..n]).unwrap();
        assert_eq!((f.header.sequence, f.header.timestamp_ns), (77, 88));
        buf[FRAME_HEADER_LEN] ^= 1;
        assert!(!restamp(&mut buf[..n], 78, None));
        assert!(decode(&buf[..n]).is_err(), "still corrupt");
    }

    #[test]
    fn oversized_bodies_are_refused() {
        let mut buf = [0u8; PAYLOAD_CAPACITY + 64];
        let body = vec![0u8; MAX_BODY_LEN + 1];
        assert_eq!(
            encode(&mut buf, 0, 0, 0, FrameKind::Ping, &body),
            Err(FrameError::TooLarge(MAX_BODY_LEN + 1))
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: if cfg!(miri) { 4 } else { 256 }, ..Default::default() })]
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn encoded_frames_always_decode(seq: u64, ts: u64, src: u32, kind: u16,
                                        body in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut buf = vec![0u8; PAYLOAD_CAPACITY];
            let n = encode(&mut buf, seq, ts, src, FrameKind::from_code(kind), &body).unwrap();
            let f = decode(&buf[..n]).unwrap();
            prop_assert_eq!(f.header.sequence, seq);
            prop_assert_eq!(f.body, &body[..]);
        }
    }
}
