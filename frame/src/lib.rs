//! forge-frame: the telemetry frame Forge's tools write into a slot's
//! payload, the checks that make a frame trustworthy, the sequence
//! verifier of a consumer, and the load generator that makes such frames.
//!
//! A ring carries bytes; this frame is a convention on top of it that
//! forge-stream writes and forge-core, forge-top, the recorder and the
//! bridge understand. Programs of your own may use it or not.
//!
//! ```text
//! 0        8          16         20     22      24         28         32
//! │ seq u64 │ ts_ns u64 │ source u32│kind u16│rsvd u16│ body_len u32│ crc32 u32 │ body …
//! ```
//! All integers little-endian. `crc32` is CRC-32 (IEEE) of the body.
//! Decoding checks every field against the bytes it has and never panics.

#![deny(unsafe_code, missing_docs, missing_debug_implementations)]

use forge_fabric::PAYLOAD_CAPACITY;

pub mod load;
pub mod verify;

/// Bytes before the body.
pub const FRAME_HEADER_LEN: usize = 32;
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
    /// CRC-32 of the body.
    pub checksum: u32,
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
    /// The body's checksum does not match.
    #[error("checksum mismatch: header says {expected:#010x}, body hashes to {found:#010x}")]
    Checksum {
        /// From the header.
        expected: u32,
        /// Computed.
        found: u32,
    },
    /// The reserved field is not zero.
    #[error("reserved field is {0:#06x}, expected 0")]
    Reserved(u16),
    /// The body is too large for a slot.
    #[error("body of {0} bytes exceeds the {MAX_BODY_LEN} bytes a slot can carry")]
    TooLarge(usize),
}

/// CRC-32 (IEEE) of `body`.
#[inline]
pub fn checksum(body: &[u8]) -> u32 {
    crc32fast::hash(body)
}

/// Writes a frame with `body` into `out`; returns the frame's total length.
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

/// Writes the header for a body already in place at
/// `out[FRAME_HEADER_LEN..FRAME_HEADER_LEN + body_len]` (zero-copy encoding).
pub fn write_header(
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
    let crc = checksum(&frame[FRAME_HEADER_LEN..]);
    frame[0..8].copy_from_slice(&sequence.to_le_bytes());
    frame[8..16].copy_from_slice(&timestamp_ns.to_le_bytes());
    frame[16..20].copy_from_slice(&source_id.to_le_bytes());
    frame[20..22].copy_from_slice(&kind.code().to_le_bytes());
    frame[22..24].copy_from_slice(&0u16.to_le_bytes());
    frame[24..28].copy_from_slice(&(body_len as u32).to_le_bytes());
    frame[28..32].copy_from_slice(&crc.to_le_bytes());
    Ok(total)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    a.copy_from_slice(&b[at..at + 8]);
    u64::from_le_bytes(a)
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    a.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(a)
}

fn le_u16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

/// Reads the fixed fields without checking the body.
pub fn decode_header(bytes: &[u8]) -> Result<FrameHeader, FrameError> {
    if bytes.len() < FRAME_HEADER_LEN {
        return Err(FrameError::Short { len: bytes.len() });
    }
    let reserved = le_u16(bytes, 22);
    if reserved != 0 {
        return Err(FrameError::Reserved(reserved));
    }
    Ok(FrameHeader {
        sequence: le_u64(bytes, 0),
        timestamp_ns: le_u64(bytes, 8),
        source_id: le_u32(bytes, 16),
        kind: FrameKind::from_code(le_u16(bytes, 20)),
        body_len: le_u32(bytes, 24),
        checksum: le_u32(bytes, 28),
    })
}

/// Decodes and verifies a whole frame: the body length must match the bytes
/// exactly and the checksum must hold.
pub fn decode(bytes: &[u8]) -> Result<Frame<'_>, FrameError> {
    let header = decode_header(bytes)?;
    let available = bytes.len() - FRAME_HEADER_LEN;
    if header.body_len as usize != available {
        return Err(FrameError::BodyLength {
            body_len: header.body_len,
            available,
        });
    }
    let body = &bytes[FRAME_HEADER_LEN..];
    let found = checksum(body);
    if found != header.checksum {
        return Err(FrameError::Checksum {
            expected: header.checksum,
            found,
        });
    }
    Ok(Frame { header, body })
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
