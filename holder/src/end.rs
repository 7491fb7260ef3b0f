//! How often a holder looks up from its frames to notice that its run must
//! end, and what can happen to its segment under it.

/// Frames between two housekeeping passes while frames keep coming.
pub const CHECK_EVERY: u32 = 4096;
/// Longest time between housekeeping passes while waiting (for space, for a
/// frame, for a paced frame's due time): bounds how late a stop, a burst or
/// a retired session is noticed.
pub const HOUSEKEEPING_NS: u64 = 10_000_000;
/// Longest single wait for space or a frame before the loop looks around.
pub const WAIT_SLICE: std::time::Duration = std::time::Duration::from_millis(5);

/// What happened to the segment under a running daemon.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lost {
    /// The name no longer exists.
    Unlinked,
    /// The name leads to another object, and ours was never retired.
    Replaced,
    /// The object shrank below what we map.
    Truncated {
        /// Its size now.
        now: u64,
        /// The size we map.
        mapped: u64,
    },
}

impl Lost {
    /// Short name for reports (`ended segment unlinked`).
    pub fn name(self) -> &'static str {
        match self {
            Lost::Unlinked => "segment_unlinked",
            Lost::Replaced => "segment_replaced",
            Lost::Truncated { .. } => "segment_truncated",
        }
    }

    pub(crate) fn code(self) -> u8 {
        match self {
            Lost::Unlinked => 1,
            Lost::Replaced => 2,
            Lost::Truncated { .. } => 3,
        }
    }

    pub(crate) fn from_code(code: u8) -> Option<Lost> {
        match code {
            1 => Some(Lost::Unlinked),
            2 => Some(Lost::Replaced),
            // The sizes are in the watch thread's message; the loop only
            // needs the kind.
            3 => Some(Lost::Truncated { now: 0, mapped: 0 }),
            _ => None,
        }
    }
}

impl std::error::Error for Lost {}

impl std::fmt::Display for Lost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Lost::Unlinked => write!(
                f,
                "the segment was unlinked under us (the name no longer exists; \
                 forge-init always retires a segment first, so something else removed it)"
            ),
            Lost::Replaced => write!(
                f,
                "the name now leads to another object, and ours was never retired"
            ),
            Lost::Truncated { now: 0, mapped: 0 } => {
                write!(f, "the segment was truncated under us")
            }
            Lost::Truncated { now, mapped } => write!(
                f,
                "the segment was truncated under us ({now} bytes left of the {mapped} we map)"
            ),
        }
    }
}
