//! forge-record: a Forge ring to and from files, for looking at it after the
//! fact.
//!
//! - [`writer`] writes recordings: MCAP files, one channel of frames per
//!   recorded session, chunked and compressed ([`codec`] is a frame's
//!   message; [`events`] the ranges a tap missed).
//! - [`read`] reads them back: [`Recording`] gives frames by index,
//!   sequence or time, the recorded identity and what was missed.
//! - [`image`] writes and reads `.forge` ring images: a segment's header and
//!   every slot, as copied and validated at one moment.
//! - [`offline::open`] opens either, told apart by their first bytes: an
//!   inspector's `--file`.
//! - `record` and `replay` are the engines of the `forge-record` and
//!   `forge-replay` binaries (feature `engines`, on by default; without it
//!   the crate is the formats alone and does not depend on the holder library).
//!
//! Both file formats are described in `FORMATS.md` beside this crate.
#![deny(unsafe_code, missing_docs)]

pub mod args;
pub mod codec;
pub mod events;
pub mod identity;
pub mod image;
mod mcap_io;
pub mod offline;
pub mod priority;
pub mod read;
#[cfg(feature = "engines")]
pub mod record;
#[cfg(feature = "engines")]
pub mod replay;
pub mod writer;

pub use events::{Event, MissedRange};
pub use identity::{ClockPair, Mode, SessionIdentity};
pub use image::{RingImage, SlotVerdict};
pub use read::{ReadError, RecordedFrame, Recording};
pub use writer::{Compression, RecordingWriter, WriterOptions};

/// Version of the recording format (the channel metadata and the frame
/// message). Readers refuse others.
pub const FORMAT_VERSION: u32 = 1;
