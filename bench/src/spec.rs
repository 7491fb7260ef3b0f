//! What the parent and a child process say to each other: the JSON
//! [`ChildSpec`] the parent passes with `--child`, and the "ready" line the
//! child answers with once its transport is open and it is pinned.

use std::io::Write;

use serde::{Deserialize, Serialize};

use crate::harness::{Result, SpinPolicy};

/// Everything a child needs to know.
#[derive(Debug, Serialize, Deserialize)]
pub struct ChildSpec {
    /// The parent's pid: the child exits if it was already orphaned.
    pub parent: u32,
    /// The core to pin to, and the pair both sides use.
    pub core: u32,
    pub pair: [u32; 2],
    pub policy: SpinPolicy,
    /// How long the child's spin loops may wait in all.
    pub budget_ms: u64,
    pub role: Role,
}

/// The child's part.
#[derive(Debug, Serialize, Deserialize)]
pub enum Role {
    /// Consumer of `ping`, producer of `pong`: echoes until a zero-length frame.
    ForgeEcho {
        ping: String,
        pong: String,
        copy: bool,
    },
    /// Producer of `ring`: `frames` frames at full speed.
    ForgeFlood {
        ring: String,
        payload: usize,
        frames: u64,
        publish_batch: u64,
    },
    /// Producer of `ring`: `frames` timestamped frames, one per `pace_ns`.
    ForgePaced {
        ring: String,
        payload: usize,
        frames: u64,
        pace_ns: u64,
    },
    /// Echoes `payload`-byte messages on the socket that is its stdin.
    UdsEcho { payload: usize },
    /// Writes `frames` messages to the socket that is its stdin.
    UdsFlood { payload: usize, frames: u64 },
    /// Echoes from stdin (a pipe) to stdout (another pipe).
    PipeEcho { payload: usize },
    /// Writes `frames` messages to stdout (a pipe).
    PipeFlood { payload: usize, frames: u64 },
    /// iceoryx2 subscriber of `ping`, publisher of `pong`.
    #[cfg(feature = "iceoryx2")]
    IceEcho {
        prefix: String,
        ping: String,
        pong: String,
        payload: usize,
    },
    /// iceoryx2 publisher of `ring`: `frames` messages at full speed.
    #[cfg(feature = "iceoryx2")]
    IceFlood {
        prefix: String,
        ring: String,
        payload: usize,
        frames: u64,
    },
}

impl Role {
    pub fn name(&self) -> String {
        let s = format!("{self:?}");
        s.split([' ', '{']).next().unwrap_or("child").to_owned()
    }
}

/// Tells the parent the transport is open and the child pinned.
pub fn ready() -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(b"ready\n")?;
    out.flush()?;
    Ok(())
}
