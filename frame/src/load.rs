//! The load generator: which frame to write at each sequence number.
//!
//! A frame is a [`forge_frame`] header and a body cut from a text
//! pattern built once at start-up, at an offset that moves with the
//! sequence, so consecutive bodies (and checksums) differ while writing one
//! costs a `memcpy`, a CRC and no allocation or formatting.

use std::str::FromStr;

use crate::{write_header, FrameKind, FRAME_HEADER_LEN};
use forge_fabric::PAYLOAD_CAPACITY;

/// Frame sizes in bytes, header included: one size, or a uniform range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SizeSpec {
    /// Smallest frame.
    pub min: usize,
    /// Largest frame.
    pub max: usize,
}

/// Why a size does not fit a frame in a slot.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SizeError {
    /// Larger than a slot's payload.
    #[error(
        "frame size {size} bytes is larger than a slot's payload: at most {PAYLOAD_CAPACITY} bytes"
    )]
    TooLarge {
        /// The size asked for.
        size: usize,
    },
    /// Smaller than the frame header.
    #[error("frame size {size} bytes is smaller than the {FRAME_HEADER_LEN}-byte frame header: at least {FRAME_HEADER_LEN} bytes")]
    TooSmall {
        /// The size asked for.
        size: usize,
    },
}

impl SizeSpec {
    /// Every frame `size` bytes.
    pub const fn fixed(size: usize) -> Self {
        SizeSpec {
            min: size,
            max: size,
        }
    }

    /// Checks both ends against the frame header and the slot.
    pub fn validate(&self) -> Result<(), SizeError> {
        for size in [self.min, self.max] {
            if size > PAYLOAD_CAPACITY {
                return Err(SizeError::TooLarge { size });
            }
            if size < FRAME_HEADER_LEN {
                return Err(SizeError::TooSmall { size });
            }
        }
        Ok(())
    }

    /// Mean frame size.
    pub fn mean(&self) -> f64 {
        (self.min + self.max) as f64 / 2.0
    }
}

impl std::fmt::Display for SizeSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.min == self.max {
            write!(f, "{} B", self.min)
        } else {
            write!(f, "{}-{} B", self.min, self.max)
        }
    }
}

impl FromStr for SizeSpec {
    type Err = String;

    /// `128`, or a range `64-4096` (also `64..4096`, inclusive).
    fn from_str(s: &str) -> Result<Self, String> {
        let num = |t: &str| {
            t.trim().parse::<usize>().map_err(|_| {
                format!("{s:?} is not a size: expected bytes like 128, or a range like 64-4096")
            })
        };
        let (min, max) = match s.split_once('-').or_else(|| s.split_once("..")) {
            Some((a, b)) => (num(a)?, num(b.trim_start_matches('='))?),
            None => {
                let n = num(s)?;
                (n, n)
            }
        };
        if min > max {
            return Err(format!(
                "size range {s:?} is reversed: expected MIN-MAX with MIN <= MAX"
            ));
        }
        Ok(SizeSpec { min, max })
    }
}

/// How far the body's start moves through the pattern.
const PATTERN_SPREAD: usize = 256;

/// Telemetry-looking text, so that a body shown by forge-top reads as such.
const PATTERN_LINES: &[&str] = &[
    "metric cpu.core1.util=0.42 host=forge-stream unit=ratio\n",
    "log level=info msg=\"gateway accepted batch\" shard=7\n",
    "span name=ingest.decode dur_ns=812 parent=0x2a status=ok\n",
    "metric ring.fill=0.13 slots=512 unit=ratio\n",
    "ping from=transport-gateway to=ingestion-tracking\n",
];

/// Writes frames for the producer.
#[derive(Debug)]
pub struct LoadGen {
    sizes: SizeSpec,
    span: u64,
    rng: u64,
    source_id: u32,
    pattern: Box<[u8]>,
}

impl LoadGen {
    /// A generator for `sizes` (validated here), stamping `source_id`.
    /// `seed` picks the sequence of sizes when `sizes` is a range.
    pub fn new(sizes: SizeSpec, source_id: u32, seed: u64) -> Result<Self, SizeError> {
        sizes.validate()?;
        let mut pattern = Vec::with_capacity(PAYLOAD_CAPACITY + PATTERN_SPREAD);
        for line in PATTERN_LINES.iter().cycle() {
            if pattern.len() >= PAYLOAD_CAPACITY + PATTERN_SPREAD {
                break;
            }
            pattern.extend_from_slice(line.as_bytes());
        }
        Ok(LoadGen {
            sizes,
            span: (sizes.max - sizes.min) as u64 + 1,
            // xorshift must not start at 0.
            rng: seed | 1,
            source_id,
            pattern: pattern.into_boxed_slice(),
        })
    }

    /// The sizes this generator writes.
    pub fn sizes(&self) -> SizeSpec {
        self.sizes
    }

    /// The kind of frame at `sequence`: mostly metrics, some logs, spans and
    /// pings, in a fixed rotation.
    #[inline]
    pub fn kind_at(sequence: u64) -> FrameKind {
        match sequence % 16 {
            0..=11 => FrameKind::Metric,
            12 | 13 => FrameKind::Log,
            14 => FrameKind::Span,
            _ => FrameKind::Ping,
        }
    }

    #[inline]
    fn next_len(&mut self) -> usize {
        if self.span == 1 {
            return self.sizes.min;
        }
        // xorshift64*: a few cycles, and good enough to spread sizes.
        self.rng ^= self.rng >> 12;
        self.rng ^= self.rng << 25;
        self.rng ^= self.rng >> 27;
        let r = self.rng.wrapping_mul(0x2545_F491_4F6C_DD1D);
        self.sizes.min + ((r >> 32) % self.span) as usize
    }

    /// Writes the frame for `sequence` into `payload` in place and returns
    /// its length. `clock` is read after the body is in place, just before
    /// the header is sealed, so the timestamp is as late as it can be.
    #[inline]
    pub fn write_frame(
        &mut self,
        payload: &mut [u8],
        sequence: u64,
        clock: impl FnOnce() -> u64,
    ) -> usize {
        let len = self.next_len();
        let body_len = len - FRAME_HEADER_LEN;
        let from = (sequence % PATTERN_SPREAD as u64) as usize;
        payload[FRAME_HEADER_LEN..len].copy_from_slice(&self.pattern[from..from + body_len]);
        let written = write_header(
            payload,
            sequence,
            clock(),
            self.source_id,
            Self::kind_at(sequence),
            body_len,
        );
        // `new` validated the sizes against the slot, so this cannot fail.
        debug_assert_eq!(written, Ok(len));
        len
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode;

    #[test]
    fn sizes_parse_as_one_value_or_an_inclusive_range() {
        assert_eq!("128".parse(), Ok(SizeSpec::fixed(128)));
        assert_eq!("64-4096".parse(), Ok(SizeSpec { min: 64, max: 4096 }));
        assert_eq!("64..4096".parse(), Ok(SizeSpec { min: 64, max: 4096 }));
        assert_eq!("64..=100".parse(), Ok(SizeSpec { min: 64, max: 100 }));
        assert!("big".parse::<SizeSpec>().is_err());
        assert!("100-50".parse::<SizeSpec>().is_err());
    }

    #[test]
    fn sizes_outside_a_slot_are_refused_with_the_limit() {
        let e = SizeSpec::fixed(5000).validate().unwrap_err();
        assert_eq!(e, SizeError::TooLarge { size: 5000 });
        assert!(e.to_string().contains("at most 4096 bytes"));
        assert_eq!(
            SizeSpec::fixed(8).validate(),
            Err(SizeError::TooSmall { size: 8 })
        );
        assert!(SizeSpec::fixed(32).validate().is_ok());
        assert!(SizeSpec::fixed(4096).validate().is_ok());
    }

    #[test]
    fn generated_frames_decode_with_their_sequence_and_timestamp() {
        let mut gen = LoadGen::new(SizeSpec { min: 32, max: 4096 }, 9, 42).unwrap();
        let mut buf = [0u8; PAYLOAD_CAPACITY];
        let (mut smallest, mut largest) = (usize::MAX, 0);
        for seq in 0..2_000u64 {
            let len = gen.write_frame(&mut buf, seq, || seq * 10);
            smallest = smallest.min(len);
            largest = largest.max(len);
            let f = decode(&buf[..len]).unwrap();
            assert_eq!(f.header.sequence, seq);
            assert_eq!(f.header.timestamp_ns, seq * 10);
            assert_eq!(f.header.source_id, 9);
            assert_eq!(f.header.kind, LoadGen::kind_at(seq));
        }
        assert!(smallest < 200 && largest > 3900, "{smallest}..{largest}");
    }

    #[test]
    fn a_fixed_size_is_exact_and_bodies_differ_between_frames() {
        let mut gen = LoadGen::new(SizeSpec::fixed(64), 1, 0).unwrap();
        let mut a = [0u8; PAYLOAD_CAPACITY];
        let mut b = [0u8; PAYLOAD_CAPACITY];
        assert_eq!(gen.write_frame(&mut a, 1, || 0), 64);
        assert_eq!(gen.write_frame(&mut b, 2, || 0), 64);
        assert_ne!(
            decode(&a[..64]).unwrap().header.checksum,
            decode(&b[..64]).unwrap().header.checksum
        );
    }

    #[test]
    fn kinds_rotate_through_all_four() {
        let kinds: std::collections::HashSet<_> = (0..16).map(LoadGen::kind_at).collect();
        assert_eq!(kinds.len(), 4);
    }
}
