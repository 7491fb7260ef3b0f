//! What crosses the network, and how the receiving side checks it.
//!
//! One Zenoh sample per frame, as iceoryx2's gateway relays one sample per
//! IPC sample: the payload is the frame's bytes exactly as they sat in the
//! origin slot (32-byte header and body, see `frame/src/lib.rs`), and
//! the attachment is the origin ring's session, 8 bytes little-endian, so a
//! receiver can tell a re-initialized origin (sequences restart) from
//! duplicates.
//!
//! ```text
//!  KEY            sample: payload = frame bytes, attachment = origin session (u64 LE)
//!  KEY/@status    JSON, once a second, from every bridge on KEY
//!  KEY/@history   queryable of the `out` bridge: ?from=SEQ;to=SEQ -> one reply per frame
//! ```
//!
//! The frame's own sequence number is the stream's sequence: forge-stream
//! numbers frames with their ring position, and a bridge keeps it, so the
//! far ring's readers verify continuity end to end.

use forge_fabric::PAYLOAD_CAPACITY;
use forge_frame::{decode, FrameError};
use zenoh::bytes::ZBytes;
use zenoh::key_expr::KeyExpr;

/// Bytes of the attachment.
pub const ORIGIN_LEN: usize = 8;

/// The status key for stream `key`.
pub fn status_key(key: &KeyExpr<'_>) -> KeyExpr<'static> {
    key.join("@status")
        .expect("a valid key joined with @status")
        .into_owned()
}

/// The history key for stream `key`.
pub fn history_key(key: &KeyExpr<'_>) -> KeyExpr<'static> {
    key.join("@history")
        .expect("a valid key joined with @history")
        .into_owned()
}

/// The attachment that says which origin session a frame comes from.
pub fn origin_attachment(session: u64) -> ZBytes {
    ZBytes::from(session.to_le_bytes().to_vec())
}

/// Why a sample from the network is not written into the ring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejected {
    /// More bytes than a slot holds.
    #[error("{len} bytes do not fit a slot ({PAYLOAD_CAPACITY} bytes at most)")]
    TooLarge {
        /// Bytes received.
        len: usize,
    },
    /// Not a Forge frame: short, body length off, checksum wrong, …
    #[error("not a valid Forge frame: {0}")]
    NotAFrame(#[from] FrameError),
    /// No origin attachment, or one of the wrong size: not from a bridge.
    #[error("no origin attachment of {ORIGIN_LEN} bytes (not published by forge-bridge out)")]
    NoOrigin,
}

impl Rejected {
    /// Short name for the status counters.
    pub fn name(&self) -> &'static str {
        match self {
            Rejected::TooLarge { .. } => "too_large",
            Rejected::NotAFrame(FrameError::Checksum { .. }) => "bad_checksum",
            Rejected::NotAFrame(_) => "not_a_frame",
            Rejected::NoOrigin => "no_origin",
        }
    }
}

/// A frame that passed every check: its origin session and sequence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    /// The origin ring's session.
    pub session: u64,
    /// The frame's sequence number.
    pub sequence: u64,
}

/// Checks a sample's payload and attachment: it fits a slot, decodes as a
/// Forge frame whose checksum holds, and says where it comes from.
pub fn check(payload: &[u8], attachment: Option<&[u8]>) -> Result<Checked, Rejected> {
    if payload.len() > PAYLOAD_CAPACITY {
        return Err(Rejected::TooLarge { len: payload.len() });
    }
    let frame = decode(payload)?;
    let session = attachment
        .and_then(|a| <[u8; ORIGIN_LEN]>::try_from(a).ok())
        .map(u64::from_le_bytes)
        .ok_or(Rejected::NoOrigin)?;
    Ok(Checked {
        session,
        sequence: frame.header.sequence,
    })
}

/// A history request: frames `from..to` (`to` exclusive, open if `None`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First sequence wanted.
    pub from: u64,
    /// One past the last sequence wanted, or everything kept.
    pub to: Option<u64>,
}

impl Range {
    /// The selector parameters, `from=A;to=B`.
    pub fn parameters(&self) -> String {
        match self.to {
            Some(to) => format!("from={};to={to}", self.from),
            None => format!("from={}", self.from),
        }
    }

    /// Reads `from` and `to` from a query's parameters.
    pub fn parse(parameters: &zenoh::query::Parameters<'_>) -> Result<Range, String> {
        let num = |name: &str| -> Result<Option<u64>, String> {
            parameters
                .get(name)
                .map(|v| {
                    v.parse::<u64>()
                        .map_err(|_| format!("{name}={v:?}: expected a sequence number"))
                })
                .transpose()
        };
        let from = num("from")?.ok_or("expected from=SEQ")?;
        let to = num("to")?;
        if to.is_some_and(|to| to < from) {
            return Err(format!("from={from} is past to={}", to.unwrap_or(0)));
        }
        Ok(Range { from, to })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use forge_frame::{encode, FrameKind};

    fn frame(seq: u64, body: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; PAYLOAD_CAPACITY];
        let n = encode(&mut buf, seq, 1, 2, FrameKind::Metric, body).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn a_bridged_frame_passes_with_its_origin() {
        let f = frame(42, b"cpu=0.5");
        let got = check(&f, Some(&7u64.to_le_bytes())).unwrap();
        assert_eq!(
            got,
            Checked {
                session: 7,
                sequence: 42
            }
        );
    }

    #[test]
    fn foreign_bytes_short_frames_bad_checksums_and_oversize_samples_are_rejected() {
        let origin = 7u64.to_le_bytes();
        let at = Some(&origin[..]);
        assert_eq!(check(b"hello", at).unwrap_err().name(), "not_a_frame");
        let mut f = frame(1, b"abcdef");
        *f.last_mut().unwrap() ^= 1;
        assert_eq!(check(&f, at).unwrap_err().name(), "bad_checksum");
        let f = frame(1, b"abcdef");
        assert_eq!(
            check(&f[..f.len() - 1], at).unwrap_err().name(),
            "not_a_frame"
        );
        let big = vec![0u8; PAYLOAD_CAPACITY + 1];
        assert_eq!(
            check(&big, at).unwrap_err(),
            Rejected::TooLarge {
                len: PAYLOAD_CAPACITY + 1
            }
        );
        assert_eq!(check(&f, None).unwrap_err(), Rejected::NoOrigin);
        assert_eq!(check(&f, Some(b"abc")).unwrap_err(), Rejected::NoOrigin);
    }

    #[test]
    fn ranges_round_trip_through_selector_parameters() {
        for r in [
            Range { from: 5, to: None },
            Range {
                from: 5,
                to: Some(9),
            },
        ] {
            let p = r.parameters();
            let parsed = Range::parse(&zenoh::query::Parameters::from(p.as_str())).unwrap();
            assert_eq!(parsed, r);
        }
        let bad = |p: &str| Range::parse(&zenoh::query::Parameters::from(p)).is_err();
        assert!(bad(""));
        assert!(bad("from=x"));
        assert!(bad("from=9;to=5"));
    }

    #[test]
    fn the_status_and_history_keys_hang_under_the_stream_key() {
        let key = KeyExpr::try_from("forge/a").unwrap();
        assert_eq!(status_key(&key).as_str(), "forge/a/@status");
        assert_eq!(history_key(&key).as_str(), "forge/a/@history");
    }
}
