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

use forge_fabric::{NameStatus, Role, Segment};

use crate::end::Lost;
use crate::signals::Control;

/// How often the name and size are checked.
pub const WATCH_PERIOD: Duration = Duration::from_millis(100);
/// How long a consumer's watch waits for a live producer to stop once the
/// segment is lost, so the frames it committed can still be read.
pub const DRAIN_WAIT: Duration = Duration::from_secs(1);

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

/// Starts the watch thread for the daemon holding `role` of `segment`.
/// It runs until the process exits. ([`crate::Holder::take`] starts it.)
///
/// # Examples
///
/// ```
/// use std::sync::Arc;
/// use forge_fabric::{CreateOptions, Role, Segment};
/// use forge_holder::{end::Lost, signals::Control, watch};
///
/// let name = format!("/forge_doc_watch_{}", std::process::id());
/// let segment = Arc::new(Segment::create(&name, &CreateOptions::default())?);
/// assert_eq!(watch::check(&segment), None);
/// let control = Control::new();
/// watch::spawn("doc", segment.clone(), Role::Producer, control.clone());
/// segment.unlink()?; // what `rm /dev/shm/...` would do
/// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
/// while control.segment_lost().is_none() && std::time::Instant::now() < deadline {
///     std::thread::sleep(watch::WATCH_PERIOD);
/// }
/// assert_eq!(control.segment_lost(), Some(Lost::Unlinked));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn spawn(program: &str, segment: Arc<Segment>, role: Role, control: Control) {
    let program = program.to_owned();
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
        if role == Role::Consumer && !matches!(lost, Lost::Truncated { .. }) {
            let deadline = Instant::now() + DRAIN_WAIT;
            while segment
                .live_holder()
                .is_some_and(|(r, _)| r == Role::Producer)
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
