//! Signals become flags that the daemons' loops poll off the per-message
//! path. The handlers only store to an atomic (async-signal-safe); nothing
//! else runs in signal context.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};

use crate::end::Lost;

/// What the outside world asked a running daemon to do.
///
/// # Examples
///
/// ```
/// use forge_holder::end::Lost;
/// use forge_holder::signals::Control;
///
/// let control = Control::from_signals()?; // SIGINT, SIGTERM, SIGHUP, SIGUSR1
/// assert!(!control.stop_requested());
/// nix::sys::signal::raise(nix::sys::signal::Signal::SIGUSR1)?;
/// assert!(control.take_usr1());
/// assert!(!control.take_usr1(), "taken once");
/// // Clones share the flags: the watch thread reports through one.
/// control.clone().set_segment_lost(Lost::Unlinked);
/// assert_eq!(control.segment_lost(), Some(Lost::Unlinked));
/// nix::sys::signal::raise(nix::sys::signal::Signal::SIGTERM)?;
/// assert!(control.stop_requested(), "a stop, not the end of the process");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Default)]
pub struct Control {
    stop: Arc<AtomicBool>,
    usr1: Arc<AtomicBool>,
    lost: Arc<AtomicU8>,
}

impl Control {
    /// Flags nobody sets but the caller (tests, benchmarks).
    pub fn new() -> Self {
        Self::default()
    }

    /// Flags set by SIGINT, SIGTERM and SIGHUP (stop: closing the terminal
    /// a daemon runs in stops it cleanly, role released and report printed)
    /// and SIGUSR1 (burst, or an interim report in the consumer).
    ///
    /// Call it first thing in `main`: until it runs, these signals kill the
    /// process with no report. It also unblocks them, in case whoever
    /// started us left them blocked (they would otherwise never arrive).
    ///
    /// Signals belong to the process, so the handlers are installed once
    /// per process and every call shares their two flags (a stop asked
    /// once is seen by every holder the process opens afterwards); each
    /// call gets a segment-lost flag of its own. Opening and dropping
    /// holders in a loop installs nothing more.
    pub fn from_signals() -> std::io::Result<Self> {
        static FLAGS: Mutex<Option<(Arc<AtomicBool>, Arc<AtomicBool>)>> = Mutex::new(None);
        let (stop, usr1) = {
            let mut flags = FLAGS.lock().unwrap_or_else(|e| e.into_inner());
            match &*flags {
                Some(pair) => pair.clone(),
                None => {
                    let stop = Arc::new(AtomicBool::new(false));
                    let usr1 = Arc::new(AtomicBool::new(false));
                    for sig in [SIGINT, SIGTERM, SIGHUP] {
                        signal_hook::flag::register(sig, Arc::clone(&stop))?;
                    }
                    signal_hook::flag::register(SIGUSR1, Arc::clone(&usr1))?;
                    flags.insert((stop, usr1)).clone()
                }
            }
        };
        use nix::sys::signal::{sigprocmask, SigSet, SigmaskHow, Signal};
        let mut ours = SigSet::empty();
        for sig in [
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGHUP,
            Signal::SIGUSR1,
        ] {
            ours.add(sig);
        }
        sigprocmask(SigmaskHow::SIG_UNBLOCK, Some(&ours), None)?;
        Ok(Control {
            stop,
            usr1,
            lost: Arc::default(),
        })
    }

    /// Has a stop been asked for?
    #[inline]
    pub fn stop_requested(&self) -> bool {
        // SYNC: pairs with the Relaxed store in `request_stop` and
        // signal-hook's store from the handler; a flag only, it guards no
        // other data.
        self.stop.load(Ordering::Relaxed)
    }

    /// Asks the loop to stop, as SIGTERM would.
    pub fn request_stop(&self) {
        // SYNC: pairs with the Relaxed load in `stop_requested`; a flag only.
        self.stop.store(true, Ordering::Relaxed);
    }

    /// Takes a pending SIGUSR1, if any. Several signals between two polls
    /// count as one.
    #[inline]
    pub fn take_usr1(&self) -> bool {
        // SYNC: pairs with the Relaxed store in `request_usr1` and
        // signal-hook's store from the handler; a flag only. The load first
        // keeps the common no-signal case free of a read-modify-write.
        self.usr1.load(Ordering::Relaxed) && self.usr1.swap(false, Ordering::Relaxed)
    }

    /// Posts a SIGUSR1 as the signal would.
    pub fn request_usr1(&self) {
        // SYNC: pairs with the Relaxed load and swap in `take_usr1`; a flag
        // only.
        self.usr1.store(true, Ordering::Relaxed);
    }

    /// Has the watch thread found the segment unlinked, replaced or
    /// truncated? One relaxed load: the housekeeping pass polls it.
    #[inline]
    pub fn segment_lost(&self) -> Option<Lost> {
        // SYNC: pairs with the Relaxed store in `set_segment_lost`; the code
        // is the whole message.
        Lost::from_code(self.lost.load(Ordering::Relaxed))
    }

    /// Reports the segment lost (the watch thread, or a test).
    pub fn set_segment_lost(&self, lost: Lost) {
        // SYNC: pairs with the Relaxed load in `segment_lost`; the code is the
        // whole message.
        self.lost.store(lost.code(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usr1_is_taken_once() {
        let c = Control::new();
        assert!(!c.take_usr1());
        c.request_usr1();
        c.request_usr1();
        assert!(c.take_usr1());
        assert!(!c.take_usr1());
    }

    #[test]
    fn signal_flags_are_installed_once_and_the_lost_flag_is_each_call_s_own() {
        let a = Control::from_signals().unwrap();
        let b = Control::from_signals().unwrap();
        assert!(Arc::ptr_eq(&a.stop, &b.stop));
        assert!(Arc::ptr_eq(&a.usr1, &b.usr1));
        a.set_segment_lost(Lost::Unlinked);
        assert_eq!(b.segment_lost(), None, "another holder's segment");
    }

    #[test]
    fn clones_share_the_flags() {
        let c = Control::new();
        let d = c.clone();
        d.request_stop();
        assert!(c.stop_requested());
    }
}
