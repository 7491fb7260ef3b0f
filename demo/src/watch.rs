//! The watch thread: notices a segment unlinked, replaced or truncated
//! under a running daemon, off the streaming thread.
//!
//! A retired segment is seen by the loops themselves (one load of the state
//! word per housekeeping pass). An `rm /dev/shm/…` or a foreign
//! `shm_unlink` leaves no trace in the header, and noticing it needs a
//! `stat`, a system call the streaming loops never make. So each daemon
//! starts this thread, which `stat`s the name every [`WATCH_PERIOD`] and
//! raises [`Control::segment_lost`] for the loop's next housekeeping pass.
//!
//! ```text
//!  watch thread (sleeps 100 ms)        streaming thread (no syscall)
//!  stat /dev/shm/NAME ── lost? ──▶ Control.lost ──▶ housekeeping: end the run
//! ```
//!
//! The consumer's watch waits (up to [`DRAIN_WAIT`]) for a live producer to
//! stop before raising the flag, and the consumer drains what is readable
//! before it ends, so frames committed before the loss are still delivered.
//! The thread inherits the daemon's pinning: its wake-ups share the core
//! with its own daemon, not the peer's.

use std::sync::Arc;
use std::time::{Duration, Instant};

use forge_fabric::{NameStatus, Segment, Side};

use crate::signals::Control;

/// How often the name and size are checked.
pub const WATCH_PERIOD: Duration = Duration::from_millis(100);
/// How long a consumer's watch waits for a live producer to stop once the
/// segment is lost, so the frames it committed can still be read.
pub const DRAIN_WAIT: Duration = Duration::from_secs(1);

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

/// What the segment looks like from its name right now.
pub fn check(segment: &Segment) -> Option<Lost> {
    match segment.name_status() {
        NameStatus::Unlinked => Some(Lost::Unlinked),
        NameStatus::Replaced => Some(Lost::Replaced),
        NameStatus::Same => match segment.size_now() {
            Some(now) if now < segment.size() => Some(Lost::Truncated {
                now,
                mapped: segment.size(),
            }),
            _ => None,
        },
    }
}

/// Starts the watch thread for the daemon holding `side` of `segment`.
/// It runs until the process exits.
pub fn spawn(program: &'static str, segment: Arc<Segment>, side: Side, control: Control) {
    let run = move || loop {
        std::thread::sleep(WATCH_PERIOD);
        let Some(lost) = check(&segment) else {
            continue;
        };
        // A retirement (forge-init --force) is the loop's to report, with
        // exit 3; the unlink that follows it is expected.
        if segment.check_session().is_err() {
            return;
        }
        if side == Side::Consumer && !matches!(lost, Lost::Truncated { .. }) {
            let deadline = Instant::now() + DRAIN_WAIT;
            while segment
                .live_holder()
                .is_some_and(|(s, _)| s == Side::Producer)
                && Instant::now() < deadline
            {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        control.set_segment_lost(lost);
        return;
    };
    if let Err(e) = std::thread::Builder::new()
        .name("segment-watch".into())
        .spawn(run)
    {
        eprintln!("{program}: warning: cannot start the segment watch thread ({e}); an unlinked segment will go unnoticed");
    }
}
