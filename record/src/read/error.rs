//! Why a recording cannot be read, and what a recovering read skipped.

use std::path::PathBuf;

/// Why a recording cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Not an MCAP file at all.
    #[error(
        "{path} is not an MCAP file: expected the magic 89 4d 43 41 50 30 0d 0a, found {found}"
    )]
    NotMcap {
        /// The file.
        path: PathBuf,
        /// What it starts with.
        found: String,
    },
    /// An MCAP file, but not a Forge recording.
    #[error("{path} is an MCAP file but not a Forge recording: {why}")]
    Foreign {
        /// The file.
        path: PathBuf,
        /// What was expected and found.
        why: String,
    },
    /// The file stops short or is damaged; `readable_bytes` of it could be
    /// read (see [`Recording::open_recovering`](super::Recording::open_recovering)).
    #[error("{path} is incomplete: {reason}; readable up to byte {readable_bytes} of {file_bytes} ({chunks} complete chunks, {frames} frames){hint}",
        hint = if *.frames > 0 { "; open it with recovery to read those" } else { "" })]
    Incomplete {
        /// The file.
        path: PathBuf,
        /// What is wrong, naming what was expected and found.
        reason: String,
        /// Bytes before the first damage.
        readable_bytes: u64,
        /// The file's size.
        file_bytes: u64,
        /// Complete chunks before it.
        chunks: u64,
        /// Frames in them.
        frames: u64,
    },
    /// A record cannot be true: a summary that disagrees with the data, a
    /// ring geometry no forge-init makes, a frame larger than its ring's
    /// slots. Recovery does not read around a file that lies.
    #[error("{path} is corrupt at byte {offset}: {what}")]
    Corrupt {
        /// The file.
        path: PathBuf,
        /// Where.
        offset: u64,
        /// What is wrong, naming the field.
        what: String,
    },
    /// No frame with that index.
    #[error("frame {index} does not exist: the recording holds {len} frames")]
    OutOfRange {
        /// Asked for.
        index: u64,
        /// Frames recorded.
        len: u64,
    },
}

/// Something wrong with a file that
/// [`Recording::open_recovering`](super::Recording::open_recovering) read
/// around.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Damage {
    /// Byte offset of the damaged record.
    pub offset: u64,
    /// Bytes skipped from there (to the end of the file when it stopped
    /// the scan).
    pub skipped: u64,
    /// Reading stopped here.
    pub fatal: bool,
    /// What was expected and found.
    pub reason: String,
}
