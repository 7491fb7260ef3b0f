//! One recorded frame as an MCAP message: its bytes and the schema that lets
//! a foreign tool (Foxglove, `mcap cat`) decode them.
//!
//! A message is CDR, little-endian (the encoding ROS 2 uses, so any MCAP tool
//! with a `ros2msg` decoder reads it). The 32-byte telemetry header of
//! `frame/src/lib.rs` is split into its fields, then the body follows:
//!
//! ```text
//! 0     4           12          20            28        32     34        36        40        42     44        48
//! │00 01 00 00│position u64│sequence u64│timestamp u64│source u32│kind│slot_flags│checksum│rec_flags│format│body len u32│body …
//! encapsulation (CDR_LE)   ── offsets below are counted from byte 4, as CDR aligns ──
//! ```
//!
//! `format` is the frame's own format field (offset 22 of its header: 0 for
//! a format 1 frame, 2 for format 2), put back as it was, so a format 2
//! checksum still covers what it covered in the ring.
//!
//! A slot whose payload is not a telemetry frame (too short, a format field
//! of no known format, a body length that disagrees with the slot's length) is
//! kept byte for byte as a [`RAW`] record: header fields 0, the whole payload
//! as the body. Either way [`decode`] gives back exactly the payload the slot
//! held, so a replay writes the very bytes that were recorded.

use forge_fabric::PAYLOAD_CAPACITY;
use forge_frame::le::{u16_at, u32_at, u64_at};
use forge_frame::{decode_header, FrameFormat, FRAME_HEADER_LEN, MAX_BODY_LEN};

/// The schema's name in the MCAP file.
pub const SCHEMA_NAME: &str = "forge/msg/Frame";
/// The schema's encoding: ROS 2 message definition text.
pub const SCHEMA_ENCODING: &str = "ros2msg";
/// The messages' encoding.
pub const MESSAGE_ENCODING: &str = "cdr";
/// The schema text, stored in every recording.
pub const SCHEMA_TEXT: &str = "\
# One slot of a Forge ring, as recorded by forge-record (record format 1).
# The 32-byte telemetry header of the frame, split into its fields, then its
# body. RAW (record_flags bit 0): the slot did not hold a telemetry frame;
# the header fields are 0 and body is the slot's whole payload.
uint64 position       # ring position the frame was published at
uint64 sequence       # telemetry header: sequence number
uint64 timestamp_ns   # telemetry header: producer CLOCK_MONOTONIC ns
uint32 source_id      # telemetry header: source id
uint16 kind           # telemetry header: 1 metric, 2 log, 3 span, 4 ping
uint16 slot_flags     # slot-word flags: 1 = RELAYED (keeps another ring's sequence)
uint32 checksum       # telemetry header: CRC-32 (IEEE), as written (format 1: of the body; 2: of the whole frame with this field read as zero)
uint16 record_flags   # 1 = RAW
uint16 frame_format   # telemetry header offset 22: 0 = frame format 1, 2 = frame format 2 (0 for RAW)
uint8[] body          # frame body; RAW: the whole payload
";

/// `record_flags` bit: the payload was not a telemetry frame.
pub const RAW: u16 = 1;
/// CDR encapsulation header: representation CDR_LE, options 0.
pub const ENCAPSULATION: [u8; 4] = [0x00, 0x01, 0x00, 0x00];
/// Bytes before the body: encapsulation plus the fixed fields.
pub const PREFIX_LEN: usize = 48;
/// The longest message a frame can become.
pub const MAX_MESSAGE_LEN: usize = PREFIX_LEN + PAYLOAD_CAPACITY;

/// A slot's payload as recorded, with where it sat in the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameRecord {
    /// Ring position the frame was published at.
    pub position: u64,
    /// Slot-word flags (`FRAME_*` bits of fabric's layout).
    pub slot_flags: u16,
    /// The payload was not a telemetry frame: [`payload`](Self::payload)
    /// holds it byte for byte.
    pub raw: bool,
    /// Exactly the bytes the slot held (telemetry header and body).
    pub payload: Vec<u8>,
}

/// Why message bytes are not a recorded frame.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodecError {
    /// Fewer bytes than the fixed part.
    #[error("{len} bytes is shorter than a frame record ({PREFIX_LEN} bytes before the body)")]
    Short {
        /// Bytes available.
        len: usize,
    },
    /// Not little-endian CDR.
    #[error(
        "encapsulation header is {found:02x?}, expected {ENCAPSULATION:02x?} (CDR, little-endian)"
    )]
    Encapsulation {
        /// The first four bytes.
        found: [u8; 4],
    },
    /// The body length disagrees with the bytes that follow it.
    #[error("body length {claimed} does not match the {available} bytes after the fixed fields")]
    BodyLength {
        /// Length field.
        claimed: u32,
        /// Bytes present.
        available: usize,
    },
    /// More payload than a slot holds.
    #[error("payload of {len} bytes exceeds a slot's {max} bytes")]
    TooLarge {
        /// Payload bytes.
        len: usize,
        /// Most a slot (or a frame body) holds.
        max: usize,
    },
    /// Record flags or a frame format this format does not define.
    #[error("record_flags {flags:#06x} / frame_format {reserved:#06x}: only RAW (1) is defined, and frame_format must be 0 (frame format 1) or 2 (frame format 2; never with RAW)")]
    Flags {
        /// `record_flags`.
        flags: u16,
        /// `frame_format`.
        reserved: u16,
    },
    /// A RAW record with header fields set.
    #[error("RAW record carries non-zero telemetry header fields")]
    RawWithHeader,
}

/// Is `payload` a telemetry frame whose header we can split out and put
/// back byte for byte?
fn splittable(payload: &[u8]) -> Option<forge_frame::FrameHeader> {
    let h = decode_header(payload).ok()?;
    (h.body_len as usize == payload.len() - FRAME_HEADER_LEN).then_some(h)
}

/// Encodes a slot's payload into `out` (cleared first; its capacity is
/// reused) and returns its telemetry sequence, `None` for a RAW record.
/// Payloads longer than a slot are refused.
pub fn encode_into(
    out: &mut Vec<u8>,
    position: u64,
    slot_flags: u16,
    payload: &[u8],
) -> Result<Option<u64>, CodecError> {
    if payload.len() > PAYLOAD_CAPACITY {
        return Err(CodecError::TooLarge {
            len: payload.len(),
            max: PAYLOAD_CAPACITY,
        });
    }
    out.clear();
    out.extend_from_slice(&ENCAPSULATION);
    let (fields, record_flags, body) = match splittable(payload) {
        Some(h) => (
            (
                h.sequence,
                h.timestamp_ns,
                h.source_id,
                h.kind.code(),
                h.checksum,
                h.format.code(),
            ),
            0,
            &payload[FRAME_HEADER_LEN..],
        ),
        None => ((0, 0, 0, 0, 0, 0), RAW, payload),
    };
    let (sequence, timestamp_ns, source_id, kind, checksum, format) = fields;
    out.extend_from_slice(&position.to_le_bytes());
    out.extend_from_slice(&sequence.to_le_bytes());
    out.extend_from_slice(&timestamp_ns.to_le_bytes());
    out.extend_from_slice(&source_id.to_le_bytes());
    out.extend_from_slice(&kind.to_le_bytes());
    out.extend_from_slice(&slot_flags.to_le_bytes());
    out.extend_from_slice(&checksum.to_le_bytes());
    out.extend_from_slice(&record_flags.to_le_bytes());
    out.extend_from_slice(&format.to_le_bytes());
    out.extend_from_slice(&(body.len() as u32).to_le_bytes());
    debug_assert_eq!(out.len(), PREFIX_LEN);
    out.extend_from_slice(body);
    Ok((record_flags == 0).then_some(sequence))
}

/// The fixed fields of a message, without its body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordHead {
    /// Ring position.
    pub position: u64,
    /// Telemetry sequence (0 for RAW).
    pub sequence: u64,
    /// Telemetry timestamp, producer CLOCK_MONOTONIC ns (0 for RAW).
    pub timestamp_ns: u64,
    /// Slot-word flags.
    pub slot_flags: u16,
    /// RAW record.
    pub raw: bool,
    /// Bytes of the slot's payload it rebuilds: the body for RAW, the
    /// telemetry header and the body otherwise.
    pub payload_len: usize,
}

/// Reads and checks the fixed fields (and the body's length), without
/// copying the body.
pub fn decode_head(bytes: &[u8]) -> Result<RecordHead, CodecError> {
    if bytes.len() < PREFIX_LEN {
        return Err(CodecError::Short { len: bytes.len() });
    }
    let mut found = [0u8; 4];
    found.copy_from_slice(&bytes[..4]);
    if found != ENCAPSULATION {
        return Err(CodecError::Encapsulation { found });
    }
    let b = &bytes[4..];
    let (flags, reserved) = (u16_at(b, 36), u16_at(b, 38));
    let raw = flags & RAW != 0;
    let format_known = FrameFormat::from_code(reserved).is_some() && !(raw && reserved != 0);
    if flags & !RAW != 0 || !format_known {
        return Err(CodecError::Flags { flags, reserved });
    }
    let claimed = u32_at(b, 40);
    let available = bytes.len() - PREFIX_LEN;
    if claimed as usize != available {
        return Err(CodecError::BodyLength { claimed, available });
    }
    let max = if raw { PAYLOAD_CAPACITY } else { MAX_BODY_LEN };
    if available > max {
        return Err(CodecError::TooLarge {
            len: available,
            max,
        });
    }
    let head = RecordHead {
        position: u64_at(b, 0),
        sequence: u64_at(b, 8),
        timestamp_ns: u64_at(b, 16),
        slot_flags: u16_at(b, 30),
        raw,
        payload_len: if raw {
            available
        } else {
            FRAME_HEADER_LEN + available
        },
    };
    let header_fields = head.sequence | head.timestamp_ns | u64::from(u32_at(b, 24));
    if raw && (header_fields != 0 || u16_at(b, 28) != 0 || u32_at(b, 32) != 0) {
        return Err(CodecError::RawWithHeader);
    }
    Ok(head)
}

/// Decodes a message back into the slot's payload, byte for byte.
pub fn decode(bytes: &[u8]) -> Result<FrameRecord, CodecError> {
    let head = decode_head(bytes)?;
    let body = &bytes[PREFIX_LEN..];
    let payload = if head.raw {
        body.to_vec()
    } else {
        let b = &bytes[4..];
        let mut payload = Vec::with_capacity(FRAME_HEADER_LEN + body.len());
        // The telemetry header exactly as frame/src/lib.rs lays it out,
        // with the checksum as recorded (a frame corrupt in the ring stays
        // corrupt in the replay). `a_recorded_frame_comes_back_byte_for_byte`
        // pins this against fabric's own decoder.
        payload.extend_from_slice(&head.sequence.to_le_bytes());
        payload.extend_from_slice(&head.timestamp_ns.to_le_bytes());
        payload.extend_from_slice(&u32_at(b, 24).to_le_bytes());
        payload.extend_from_slice(&u16_at(b, 28).to_le_bytes());
        payload.extend_from_slice(&u16_at(b, 38).to_le_bytes());
        payload.extend_from_slice(&(body.len() as u32).to_le_bytes());
        payload.extend_from_slice(&u32_at(b, 32).to_le_bytes());
        payload.extend_from_slice(body);
        payload
    };
    Ok(FrameRecord {
        position: head.position,
        slot_flags: head.slot_flags,
        raw: head.raw,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use forge_frame::{self as frame, encode, FrameKind};
    use proptest::prelude::*;

    fn telemetry(seq: u64, body: &[u8]) -> Vec<u8> {
        let mut buf = vec![0u8; PAYLOAD_CAPACITY];
        let n = encode(&mut buf, seq, 77, 5, FrameKind::Span, body).unwrap();
        buf.truncate(n);
        buf
    }

    #[test]
    fn a_recorded_frame_comes_back_byte_for_byte() {
        let payload = telemetry(42, b"hello, ring");
        let mut msg = Vec::new();
        encode_into(&mut msg, 1_042, 1, &payload).unwrap();
        assert_eq!(msg.len(), PREFIX_LEN + payload.len() - FRAME_HEADER_LEN);
        let rec = decode(&msg).unwrap();
        assert_eq!(rec.payload, payload);
        assert_eq!((rec.position, rec.slot_flags, rec.raw), (1_042, 1, false));
        let f = frame::decode(&rec.payload).unwrap();
        assert_eq!((f.header.sequence, f.body), (42, &b"hello, ring"[..]));
    }

    #[test]
    fn both_frame_formats_come_back_as_they_were_and_verify() {
        let mut v1 = vec![0u8; 64];
        v1[FRAME_HEADER_LEN..FRAME_HEADER_LEN + 3].copy_from_slice(b"one");
        let n =
            frame::write_header_as(FrameFormat::V1, &mut v1, 7, 8, 9, FrameKind::Log, 3).unwrap();
        v1.truncate(n);
        for payload in [v1, telemetry(8, b"two")] {
            let mut msg = Vec::new();
            encode_into(&mut msg, 5, 0, &payload).unwrap();
            assert_eq!(u16_at(&msg[4..], 38), u16_at(&payload, 22));
            let rec = decode(&msg).unwrap();
            assert!(!rec.raw);
            assert_eq!(rec.payload, payload);
            frame::decode(&rec.payload).unwrap();
        }
        // An unknown frame format in a record is refused, so is any with RAW.
        let mut msg = Vec::new();
        encode_into(&mut msg, 5, 0, &telemetry(1, b"x")).unwrap();
        msg[4 + 38] = 1;
        assert!(matches!(
            decode(&msg),
            Err(CodecError::Flags { reserved: 1, .. })
        ));
        let mut msg = Vec::new();
        encode_into(&mut msg, 5, 0, b"raw bytes").unwrap();
        msg[4 + 38] = 2;
        assert!(matches!(
            decode(&msg),
            Err(CodecError::Flags { reserved: 2, .. })
        ));
    }

    #[test]
    fn a_format_2_frame_whose_header_was_changed_stays_corrupt_once_recorded() {
        let mut payload = telemetry(1, b"abc");
        payload[20] = 7; // kind
        let mut msg = Vec::new();
        encode_into(&mut msg, 1, 0, &payload).unwrap();
        let rec = decode(&msg).unwrap();
        assert_eq!(rec.payload, payload);
        assert!(frame::decode(&rec.payload).is_err());
    }

    #[test]
    fn a_frame_with_a_bad_checksum_keeps_it() {
        let mut payload = telemetry(1, b"abc");
        payload[FRAME_HEADER_LEN] ^= 0xff;
        let mut msg = Vec::new();
        encode_into(&mut msg, 1, 0, &payload).unwrap();
        let rec = decode(&msg).unwrap();
        assert!(!rec.raw);
        assert_eq!(rec.payload, payload);
        assert!(frame::decode(&rec.payload).is_err());
    }

    #[test]
    fn payloads_that_are_not_frames_are_kept_raw() {
        for payload in [&b""[..], b"short", &[0xffu8; 64][..]] {
            let mut msg = Vec::new();
            encode_into(&mut msg, 9, 0, payload).unwrap();
            let rec = decode(&msg).unwrap();
            assert!(rec.raw, "{payload:?}");
            assert_eq!(rec.payload, payload);
        }
    }

    #[test]
    fn a_body_length_that_disagrees_is_an_error() {
        let mut msg = Vec::new();
        encode_into(&mut msg, 9, 0, &telemetry(1, b"abcd")).unwrap();
        msg.pop();
        assert!(matches!(decode(&msg), Err(CodecError::BodyLength { .. })));
        msg[0] = 1;
        assert!(matches!(
            decode(&msg),
            Err(CodecError::Encapsulation { .. })
        ));
        assert!(matches!(
            decode(&msg[..10]),
            Err(CodecError::Short { len: 10 })
        ));
    }

    #[test]
    fn the_field_offsets_match_the_schema_text_order() {
        // CDR lays the fields out in declaration order with natural
        // alignment; these are the offsets a foreign decoder will use.
        let payload = telemetry(0x1111, b"x");
        let mut msg = Vec::new();
        encode_into(&mut msg, 0x2222, 0x0001, &payload).unwrap();
        let b = &msg[4..];
        assert_eq!(u64_at(b, 0), 0x2222);
        assert_eq!(u64_at(b, 8), 0x1111);
        assert_eq!(u64_at(b, 16), 77);
        assert_eq!(u32_at(b, 24), 5);
        assert_eq!(u16_at(b, 28), FrameKind::Span.code());
        assert_eq!(u16_at(b, 30), 1);
        assert_eq!(u32_at(b, 40), 1);
        assert!(SCHEMA_TEXT.find("position").unwrap() < SCHEMA_TEXT.find("uint8[] body").unwrap());
    }

    proptest! {
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode(&bytes);
        }

        #[test]
        fn any_payload_round_trips(pos: u64, flags: u16,
                                   payload in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut msg = Vec::new();
            encode_into(&mut msg, pos, flags, &payload).unwrap();
            let rec = decode(&msg).unwrap();
            prop_assert_eq!(rec.payload, payload);
            prop_assert_eq!((rec.position, rec.slot_flags), (pos, flags));
        }
    }
}
