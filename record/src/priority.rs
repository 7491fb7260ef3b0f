//! The tap's CPU priority: a read-only recorder should take only the CPU
//! time nobody else wants, or on a small machine it slows the very daemons
//! it watches by competing for their cores.
//!
//! The one unsafe call of this crate: `sched_setscheduler(2)` has no safe
//! wrapper in nix.
#![allow(unsafe_code)]

/// Moves the calling process to `SCHED_IDLE`: it runs only when a core has
/// nothing else to run.
pub fn become_idle() -> std::io::Result<()> {
    let param = libc::sched_param { sched_priority: 0 };
    // SAFETY: `param` is a valid sched_param for the duration of the call;
    // pid 0 is the calling process; SCHED_IDLE takes priority 0.
    let rc = unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &param) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}
