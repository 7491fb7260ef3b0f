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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
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
/// It runs until the segment is lost or the returned [`Watch`] is dropped,
/// whichever comes first; [`crate::Holder::take`] starts it and keeps the
/// handle, so the thread (and the mapping it keeps) ends with the holder.
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
/// let watch = watch::spawn("doc", segment.clone(), Role::Producer, control.clone());
/// segment.unlink()?; // what `rm /dev/shm/...` would do
/// let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
/// while control.segment_lost().is_none() && std::time::Instant::now() < deadline {
///     std::thread::sleep(watch::WATCH_PERIOD);
/// }
/// assert_eq!(control.segment_lost(), Some(Lost::Unlinked));
/// watch.stop(); // ended already: the loss was its last report
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn spawn(program: &str, segment: Arc<Segment>, role: Role, control: Control) -> Watch {
    let program = program.to_owned();
    let done = Arc::new(AtomicBool::new(false));
    let ended = Arc::clone(&done);
    let run = move || loop {
        std::thread::park_timeout(WATCH_PERIOD);
        // SYNC: pairs with the Relaxed store in `Watch::end`; a flag only
        // (the unpark that follows it wakes us to read it).
        if ended.load(Ordering::Relaxed) {
            return;
        }
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
                && !ended.load(Ordering::Relaxed)
            {
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        control.set_segment_lost(lost);
        return;
    };
    match std::thread::Builder::new()
        .name("segment-watch".into())
        .spawn(run)
    {
        Ok(thread) => Watch {
            done,
            thread: Some(thread),
        },
        Err(e) => {
            eprintln!("{program}: warning: cannot start the segment watch thread ({e}); an unlinked segment will go unnoticed");
            Watch { done, thread: None }
        }
    }
}

/// A running watch thread: dropping it (or [`Watch::stop`]) ends the
/// thread and waits for it, so nothing of the segment outlives its holder.
#[derive(Debug)]
#[must_use = "dropping the handle ends the watch thread at once"]
pub struct Watch {
    done: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Watch {
    /// Ends the thread (woken from its sleep, not waited out) and joins it.
    pub fn stop(mut self) {
        self.end();
    }

    /// Is the thread still running? (It ends by itself once it reported a
    /// loss.)
    #[cfg(test)]
    fn is_running(&self) -> bool {
        self.thread.as_ref().is_some_and(|t| !t.is_finished())
    }

    fn end(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        // SYNC: pairs with the Relaxed load in the thread's loop; the
        // unpark makes it look now rather than after its period.
        self.done.store(true, Ordering::Relaxed);
        thread.thread().unpark();
        let _ = thread.join();
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.end();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use forge_fabric::CreateOptions;

    /// The thread ends with its handle and gives back its reference to the
    /// segment.
    #[test]
    fn dropping_the_handle_ends_the_thread_and_lets_the_segment_go() {
        let name = format!("/forge_test_watch_end_{}", std::process::id());
        let segment = Arc::new(Segment::create(&name, &CreateOptions::default()).unwrap());
        let watch = spawn("test", segment.clone(), Role::Producer, Control::new());
        assert!(watch.is_running());
        assert_eq!(Arc::strong_count(&segment), 2, "the thread holds one");
        drop(watch);
        assert_eq!(Arc::strong_count(&segment), 1, "the thread's is gone");
        segment.unlink().unwrap();
    }

    /// A holder taken and dropped, again and again (a program that
    /// reconnects), leaves no watch thread behind holding the mapping.
    #[test]
    fn a_dropped_holder_takes_its_watch_thread_with_it() {
        let name = format!("/forge_test_watch_holder_{}", std::process::id());
        let segment = Arc::new(Segment::create(&name, &CreateOptions::default()).unwrap());
        for _ in 0..20 {
            let claim = forge_fabric::Claim::new();
            let holder = crate::Holder::<forge_fabric::Producer>::take(
                segment.clone(),
                &claim,
                Control::new(),
            )
            .unwrap();
            assert!(Arc::strong_count(&segment) >= 3, "holder and thread");
            drop(holder);
            assert_eq!(Arc::strong_count(&segment), 1);
        }
        segment.unlink().unwrap();
    }
}
