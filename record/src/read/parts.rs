//! What a scan of a recording finds: its sessions, channels and frames,
//! and the blocks frames are read back from.

use std::ops::Range;
use std::sync::Arc;

use forge_frame::{self as frame, Frame, FrameError, FrameHeader};

use crate::identity::SessionIdentity;

/// One recorded session: a channel of frames.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// The MCAP channel id.
    pub channel_id: u16,
    /// The channel's topic.
    pub topic: String,
    /// The segment's identity as recorded.
    pub identity: SessionIdentity,
    /// Frames of this session in the file.
    pub frames: u64,
}

/// A channel of the file, Forge's or not, and how many messages it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelInfo {
    /// Channel id.
    pub id: u16,
    /// Topic.
    pub topic: String,
    /// Message encoding.
    pub message_encoding: String,
    /// Schema name ("" without one).
    pub schema: String,
    /// Messages found in the readable part.
    pub messages: u64,
}

/// One frame read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordedFrame {
    /// Its index in the recording, from 0.
    pub index: u64,
    /// Index into [`Recording::sessions`](super::Recording::sessions).
    pub session: usize,
    /// The ring position it was published at.
    pub position: u64,
    /// The slot-word flags it was committed with.
    pub slot_flags: u16,
    /// The payload was not a telemetry frame.
    pub raw: bool,
    /// Its time, wall clock ns (MCAP `log_time`).
    pub log_time_ns: u64,
    /// The slot's payload, exactly as recorded.
    pub payload: Vec<u8>,
}

impl RecordedFrame {
    /// The payload as a telemetry frame (checksum verified).
    pub fn frame(&self) -> Result<Frame<'_>, FrameError> {
        frame::decode(&self.payload)
    }

    /// The telemetry header, if the payload has one.
    pub fn header(&self) -> Option<FrameHeader> {
        (!self.raw)
            .then(|| frame::decode_header(&self.payload).ok())
            .flatten()
    }

    /// The telemetry sequence number, if the payload has one.
    pub fn sequence(&self) -> Option<u64> {
        self.header().map(|h| h.sequence)
    }
}

/// Where a block's frames come from.
#[derive(Debug)]
pub(crate) enum Source {
    /// A chunk: the byte range of its whole record in the file.
    Chunk { record: Range<usize>, offset: u64 },
    /// Messages outside any chunk, decoded at scan time.
    Loose(Arc<[RecordedFrame]>),
}

/// A run of frames: one chunk's, or consecutive unchunked ones.
#[derive(Debug)]
pub(crate) struct Block {
    pub(crate) source: Source,
    pub(crate) first: u64,
    pub(crate) count: u64,
    /// Smallest and largest telemetry sequence (non-RAW frames).
    pub(crate) sequences: Option<(u64, u64)>,
    /// Earliest and latest log time.
    pub(crate) times: (u64, u64),
}

/// A running minimum and maximum.
pub(crate) fn widen(range: &mut Option<(u64, u64)>, v: u64) {
    let (lo, hi) = range.get_or_insert((v, v));
    *lo = (*lo).min(v);
    *hi = (*hi).max(v);
}
