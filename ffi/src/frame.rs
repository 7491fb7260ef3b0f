//! Forge's telemetry frame (forge-frame), for C programs that write frames
//! forge-core verifies, or read frames forge-stream wrote:
//!
//! ```text
//! 0        8          16         20       22         24           28          32
//! │ seq u64 │ ts_ns u64 │ source u32│kind u16│format u16│ body_len u32│ crc32 u32 │ body …
//! ```
//!
//! All little-endian. Format 2 (what Forge writes): `crc32` is CRC-32
//! (IEEE) of the whole frame with the `crc32` field read as zero. Format 1
//! (0 at offset 22): of the body only; still checked.

use std::ffi::c_void;

use forge_frame::FrameKind;

use crate::args;
use crate::status::{call, value, Failure, ForgeStatus};

/// Bytes of a frame's header, before its body.
pub const FORGE_FRAME_HEADER_LEN: usize = 32;
/// Largest body a frame can carry in a slot of the default (and largest)
/// payload capacity, 4096 bytes. A ring of smaller slots carries less:
/// its payload capacity less the header.
pub const FORGE_FRAME_MAX_BODY_LEN: usize = 4064;
/// The largest (and default) payload capacity of a slot, in bytes.
pub const FORGE_PAYLOAD_CAPACITY: usize = 4096;
/// The default number of slots of a segment.
pub const FORGE_DEFAULT_SLOT_COUNT: u32 = 512;

const _: () = assert!(FORGE_FRAME_HEADER_LEN == forge_frame::FRAME_HEADER_LEN);
const _: () = assert!(FORGE_FRAME_MAX_BODY_LEN == forge_frame::MAX_BODY_LEN);
const _: () = assert!(FORGE_PAYLOAD_CAPACITY == forge_fabric::PAYLOAD_CAPACITY);
const _: () = assert!(FORGE_DEFAULT_SLOT_COUNT == forge_fabric::DEFAULT_SLOT_COUNT);

/// What a frame carries (its `kind` field). Other values are allowed and
/// kept: these are the ones Forge's tools name.
#[repr(C)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ForgeFrameKind {
    /// A metric sample.
    Metric = 1,
    /// A log line.
    Log = 2,
    /// A trace span.
    Span = 3,
    /// A liveness ping.
    Ping = 4,
}

const _: () = assert!(ForgeFrameKind::Metric as u16 == FrameKind::Metric.code());
const _: () = assert!(ForgeFrameKind::Log as u16 == FrameKind::Log.code());
const _: () = assert!(ForgeFrameKind::Span as u16 == FrameKind::Span.code());
const _: () = assert!(ForgeFrameKind::Ping as u16 == FrameKind::Ping.code());

/// A checked frame's fields (`forge_frame_check`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct ForgeFrameHeader {
    /// Its sequence number: forge-stream's and a C producer's are the
    /// frame's ring position, which forge-core checks.
    pub sequence: u64,
    /// The producer's CLOCK_MONOTONIC ns when it was written
    /// (`forge_now_ns`).
    pub timestamp_ns: u64,
    /// Which source made it.
    pub source_id: u32,
    /// What it carries (a `ForgeFrameKind`, or another value).
    pub kind: u16,
    /// Its format: 1 or 2.
    pub format: u16,
    /// Bytes of body after the header.
    pub body_len: u32,
    /// Its checksum, as written.
    pub checksum: u32,
    /// Its body: `body_len` bytes inside the bytes checked.
    pub body: *const c_void,
}

/// CLOCK_MONOTONIC now, in ns: the clock frame timestamps use (forge-core
/// measures transit latency against it).
#[no_mangle]
pub extern "C" fn forge_now_ns() -> u64 {
    value(0, forge_fabric::clock::monotonic_ns)
}

/// Writes a frame (format 2) with the body `body` (`body_len` bytes; NULL
/// when 0) into `out`, which holds `capacity` bytes; `*frame_len` is the
/// frame's length, `FORGE_FRAME_HEADER_LEN + body_len`. `kind` is a
/// `ForgeFrameKind` or a value of your own. `FORGE_STATUS_BUFFER_TOO_SMALL`
/// when the frame does not fit `capacity`, `FORGE_STATUS_TOO_LARGE` when
/// the body is over `FORGE_FRAME_MAX_BODY_LEN`.
#[no_mangle]
pub unsafe extern "C" fn forge_frame_encode(
    out: *mut c_void,
    capacity: usize,
    sequence: u64,
    timestamp_ns: u64,
    source_id: u32,
    kind: u16,
    body: *const c_void,
    body_len: usize,
    frame_len: *mut usize,
) -> ForgeStatus {
    call(|| {
        // Before any slice is made: two that overlap must never exist.
        let (o, b) = (out as usize, body as usize);
        if body_len > 0
            && capacity > 0
            && b < o.saturating_add(capacity)
            && o < b.saturating_add(body_len)
        {
            return Err(Failure::invalid(
                "body overlaps out: for a body already in place, write the header alone (forge_frame_write_header)",
            ));
        }
        // SAFETY: the contract (lib.rs): NULL or valid pointers, `out`
        // writable for `capacity` bytes and `body` readable for `body_len`;
        // the two do not overlap (checked above).
        let (buf, body, frame_len) = unsafe {
            (
                args::bytes_mut(out, capacity, "out")?,
                args::bytes(body, body_len, "body")?,
                args::out(frame_len, "frame_len")?,
            )
        };
        fits(buf.len(), body_len)?;
        let n = forge_frame::encode(
            buf,
            sequence,
            timestamp_ns,
            source_id,
            FrameKind::from_code(kind),
            body,
        )?;
        frame_len.set(n);
        Ok(())
    })
}

/// Writes a frame's header (format 2) for a body already in place at
/// `out + FORGE_FRAME_HEADER_LEN` (`body_len` bytes), to build a frame in a
/// claimed slot without a copy; `*frame_len` is the frame's length. Errors
/// as `forge_frame_encode`.
#[no_mangle]
pub unsafe extern "C" fn forge_frame_write_header(
    out: *mut c_void,
    capacity: usize,
    sequence: u64,
    timestamp_ns: u64,
    source_id: u32,
    kind: u16,
    body_len: usize,
    frame_len: *mut usize,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers, `out`
        // writable for `capacity` bytes.
        let (buf, frame_len) = unsafe {
            (
                args::bytes_mut(out, capacity, "out")?,
                args::out(frame_len, "frame_len")?,
            )
        };
        fits(buf.len(), body_len)?;
        let n = forge_frame::write_header(
            buf,
            sequence,
            timestamp_ns,
            source_id,
            FrameKind::from_code(kind),
            body_len,
        )?;
        frame_len.set(n);
        Ok(())
    })
}

fn fits(capacity: usize, body_len: usize) -> Result<(), Failure> {
    if body_len > FORGE_FRAME_MAX_BODY_LEN {
        return Err(Failure::new(
            ForgeStatus::TooLarge,
            format!("a body of {body_len} bytes is over the {FORGE_FRAME_MAX_BODY_LEN} bytes a frame carries"),
        ));
    }
    let need = FORGE_FRAME_HEADER_LEN + body_len;
    if capacity < need {
        return Err(Failure::new(
            ForgeStatus::BufferTooSmall,
            format!("a frame with a body of {body_len} bytes takes {need} bytes; the buffer holds {capacity}"),
        ));
    }
    Ok(())
}

/// Checks that the `len` bytes at `bytes` are one whole, sound frame: a
/// header of a known format, a body length matching the bytes exactly, and
/// a checksum that holds (over the header fields and the body in format 2,
/// the body in format 1). `*header` (if not NULL) gets its fields when it
/// is sound. `FORGE_STATUS_FRAME_SHORT`, `_FRAME_LENGTH`, `_FRAME_CHECKSUM`
/// or `_FRAME_FORMAT` say what is wrong (exit code 4).
#[no_mangle]
pub unsafe extern "C" fn forge_frame_check(
    bytes: *const c_void,
    len: usize,
    header: *mut ForgeFrameHeader,
) -> ForgeStatus {
    call(|| {
        // SAFETY: the contract (lib.rs): NULL or valid pointers, `bytes`
        // readable for `len` bytes.
        let (bytes, header) = unsafe { (args::bytes(bytes, len, "bytes")?, args::out_opt(header)) };
        let frame = forge_frame::decode(bytes)?;
        if let Some(out) = header {
            let h = frame.header;
            out.set(ForgeFrameHeader {
                sequence: h.sequence,
                timestamp_ns: h.timestamp_ns,
                source_id: h.source_id,
                kind: h.kind.code(),
                format: h.format.number().into(),
                body_len: h.body_len,
                checksum: h.checksum,
                body: frame.body.as_ptr().cast(),
            });
        }
        Ok(())
    })
}
