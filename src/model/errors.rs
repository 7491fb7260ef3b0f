//! Why an effect or a cursor move was not done: typed to the app, which
//! words and weighs them (a refused burst warns, a lost screenshot is an
//! alarm), instead of strings made where they happened.

use std::fmt;
use std::path::PathBuf;

use forge_fabric::observe::{HolderCheck, SignalRefused};
use forge_fabric::SegmentError;

/// Why a load burst was not sent.
#[derive(Debug, thiserror::Error)]
pub enum BurstError {
    /// The segment could not be opened to prove the holder.
    #[error("no burst: {0}")]
    Open(#[from] SegmentError),
    /// Another process holds the role now.
    #[error("no burst: the producer is now pid {now}, not {asked}; press b again")]
    Moved {
        /// The pid the app asked to signal.
        asked: u32,
        /// The pid proven to hold the role now.
        now: u32,
    },
    /// No process could be proven to hold the role.
    #[error("no burst: {0}")]
    Unproven(HolderCheck),
    /// The kernel or the proof refused the signal.
    #[error("no burst: {0}")]
    Refused(#[from] SignalRefused),
}

/// Why the segments in `/dev/shm` could not be listed.
#[derive(Debug, thiserror::Error)]
#[error("cannot read /dev/shm: {0}")]
pub struct ListError(#[from] pub std::io::Error);

/// Why a screenshot bundle was not saved, or not all of it.
#[derive(Debug, thiserror::Error)]
pub enum SaveError {
    /// Nothing was saved.
    #[error("could not save a screenshot into {}: {reason}", dir.display())]
    Bundle {
        /// The screenshot directory.
        dir: PathBuf,
        /// What went wrong.
        reason: String,
    },
    /// The SVG, text and JSON were saved; the ring image was not.
    #[error("saved {}.{{svg,txt,json}}, but not the image: {reason}", stem.display())]
    Image {
        /// The saved files' path without extension.
        stem: PathBuf,
        /// What went wrong.
        reason: String,
    },
}

/// Why a recording's cursor did not move.
#[derive(Debug)]
pub enum SeekError {
    /// Watching a live ring: nothing to move.
    Live,
    /// A `.forge` image is one moment.
    Image,
    /// The recording holds no frame.
    Empty,
    /// The file could not be read there.
    Read(forge_record::read::ReadError),
    /// A frame could not be read (1-based).
    ReadFrame {
        /// Which frame.
        frame: u64,
        /// Why.
        error: forge_record::read::ReadError,
    },
    /// No frame carries that sequence.
    NoSequence {
        /// The sequence asked for.
        seq: u64,
        /// The first and last sequences the recording holds, when known.
        held: Option<(u64, u64)>,
    },
    /// The recording ends before that time.
    EndsBefore {
        /// The time asked for, ns since the Unix epoch.
        unix_ns: u64,
    },
    /// No frame in the direction asked matches.
    NoMatch {
        /// What was searched for.
        query: String,
        /// Later frames, or earlier ones.
        forward: bool,
        /// The frames searched (1-based, inclusive) and how many there are;
        /// `None` when there was no frame to search in that direction.
        searched: Option<(u64, u64, u64)>,
    },
}

impl fmt::Display for SeekError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SeekError::Live => f.write_str("only a recording has a cursor: forge-top --file FILE.mcap"),
            SeekError::Image => f.write_str("an image is one moment: it has no cursor"),
            SeekError::Empty => f.write_str("the recording is empty: it holds no frame to move to"),
            SeekError::Read(e) => write!(f, "cannot read the recording: {e}"),
            SeekError::ReadFrame { frame, error } => {
                write!(f, "cannot read the recording at frame {frame}: {error}")
            }
            SeekError::NoSequence { seq, held: Some((a, b)) } => write!(
                f,
                "sequence {seq} is not in the recording: it holds {a}..{b} (less what was not recorded)"
            ),
            SeekError::NoSequence { seq, held: None } => {
                write!(f, "sequence {seq} is not in the recording")
            }
            SeekError::EndsBefore { unix_ns } => write!(
                f,
                "the recording ends before {} UTC",
                forge_cli::human::time_of_day(*unix_ns)
            ),
            SeekError::NoMatch { query, forward, searched } => {
                let whither = if *forward { "from here on" } else { "before here" };
                match searched {
                    Some((a, b, of)) => write!(
                        f,
                        "no frame {whither} matches {query:?} (searched frames {a}..{b} of {of})"
                    ),
                    None => write!(
                        f,
                        "no frame {whither} matches {query:?}: the cursor is on the {} frame",
                        if *forward { "last" } else { "first" }
                    ),
                }
            }
        }
    }
}

impl std::error::Error for SeekError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            SeekError::Read(e) | SeekError::ReadFrame { error: e, .. } => Some(e),
            _ => None,
        }
    }
}

impl From<forge_record::read::ReadError> for SeekError {
    fn from(e: forge_record::read::ReadError) -> Self {
        SeekError::Read(e)
    }
}
