//! The image format's constants, its metadata, and why bytes are not an
//! image.

use forge_cli::output::OutputError;

/// First bytes of an image.
pub const MAGIC: &[u8; 8] = b"FORGEIMG";
/// First bytes of the trailer.
pub const END_MAGIC: &[u8; 8] = b"FORGEEND";
/// The image format this build writes and reads.
pub const IMAGE_VERSION: u32 = 1;
/// Bytes before the JSON metadata.
pub(super) const PREAMBLE: usize = 24;
/// Bytes of the trailer.
pub(super) const TRAILER: usize = 24;
/// Largest metadata this reader accepts.
pub const MAX_META: u64 = 16 << 20;
/// Bytes of a slot record before its payload.
pub(super) const SLOT_RECORD: usize = 24;

/// `checks` bit: the slot word changed while it was copied.
pub const CHECK_CHANGED: u8 = 1;
/// `checks` bit: the producer may have been rewriting the slot.
pub const CHECK_OVERWRITABLE: u8 = 2;
/// `checks` bit: `changed || overwritable`: the bytes cannot be trusted.
pub const CHECK_TORN: u8 = 4;
/// `checks` bit: the stamp named a ring position (`position` is valid).
pub const CHECK_HAS_POSITION: u8 = 8;

/// When, where and by what an image was taken.
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct ImageMeta {
    /// Wall clock when taken, ns since the Unix epoch.
    pub taken_unix_ns: u64,
    /// CLOCK_MONOTONIC when taken (the clock of heartbeats and frames).
    pub taken_mono_ns: u64,
    /// Host name.
    pub host: String,
    /// The program that wrote it (`forge-top 0.1.0`).
    pub writer: String,
}

/// Why bytes are not a ring image.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// The file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not an image (another kind of file).
    #[error("not a Forge ring image: expected the magic \"FORGEIMG\", found {found}")]
    NotImage {
        /// What the bytes start with.
        found: String,
    },
    /// An image of another format version.
    #[error("ring image format version {found}; this build reads version {IMAGE_VERSION}")]
    Version {
        /// The file's version.
        found: u32,
    },
    /// The file stops short.
    #[error(
        "truncated ring image: {what} needs {needed} bytes at offset {offset}, the file has {len}"
    )]
    Truncated {
        /// The part that does not fit.
        what: String,
        /// Its offset.
        offset: u64,
        /// Bytes it needs.
        needed: u64,
        /// The file's size.
        len: u64,
    },
    /// A field that cannot be true.
    #[error("corrupt ring image: {0}")]
    Corrupt(String),
    /// The image could not be written.
    #[error(transparent)]
    Output(#[from] OutputError),
}
