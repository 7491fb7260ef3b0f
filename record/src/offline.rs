//! One entry point for an inspector's `--file`: a recording or a ring
//! image, told apart by their first bytes.

use std::io::Read;
use std::path::{Path, PathBuf};

use crate::image::{ImageError, RingImage};
use crate::read::{ReadError, Recording};

/// A file opened offline.
#[derive(Debug)]
pub enum Offline {
    /// A recording (`.mcap`): frames over time.
    Recording(Box<Recording>),
    /// A ring image (`.forge`): the ring at one moment.
    Image(Box<RingImage>),
}

/// Why a file could not be opened offline.
#[derive(Debug, thiserror::Error)]
pub enum OfflineError {
    /// The file could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// Neither kind of file.
    #[error("{path} is neither a Forge recording (MCAP magic 89 4d 43 41 50 30 0d 0a) nor a ring image (\"FORGEIMG\"): it starts with {found}")]
    Unknown {
        /// The file.
        path: PathBuf,
        /// Its first bytes.
        found: String,
    },
    /// A recording that cannot be read.
    #[error(transparent)]
    Recording(#[from] ReadError),
    /// An image that cannot be read.
    #[error("{path}: {source}")]
    Image {
        /// The file.
        path: PathBuf,
        /// Why.
        source: ImageError,
    },
}

/// Opens `path` as whichever it is. A recording cut short is refused
/// unless `recover`, which reads its complete chunks (see
/// [`Recording::open_recovering`]).
pub fn open(path: &Path, recover: bool) -> Result<Offline, OfflineError> {
    let io = |source| OfflineError::Io {
        path: path.to_owned(),
        source,
    };
    let mut head = [0u8; 8];
    let n = std::fs::File::open(path)
        .and_then(|f| f.take(8).read(&mut head))
        .map_err(io)?;
    let head = &head[..n];
    if head == crate::image::MAGIC {
        return RingImage::load(path)
            .map(|img| Offline::Image(Box::new(img)))
            .map_err(|source| OfflineError::Image {
                path: path.to_owned(),
                source,
            });
    }
    if head == mcap::MAGIC {
        let rec = if recover {
            Recording::open_recovering(path)
        } else {
            Recording::open(path)
        };
        return Ok(Offline::Recording(Box::new(rec?)));
    }
    Err(OfflineError::Unknown {
        path: path.to_owned(),
        found: if head.is_empty() {
            "nothing (an empty file)".into()
        } else {
            format!("{head:02x?}")
        },
    })
}
