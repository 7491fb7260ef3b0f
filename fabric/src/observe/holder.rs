//! Which process holds a role, proven rather than assumed: a pid alone may
//! have been reused, may mean another process in another pid namespace, or
//! may have been written by anyone who can write the segment.

use super::Observer;
use crate::process::{Identity, Pidfd};
use crate::segment::locks::LockState;
use crate::sync::Ordering;
use crate::vocab::Role;

/// Whether the process a role's line names can be proven to hold the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HolderCheck {
    /// No live process holds the role lock.
    NotHeld,
    /// The process the line names (its pid, pid namespace and start time
    /// match a process in our pid namespace) holds the role's write lock on
    /// this very segment's lock object: the kernel lists it among that
    /// process's own locks.
    Verified {
        /// Its pid.
        pid: u32,
    },
    /// The holder lives in another pid namespace (another container): its
    /// pid means nothing here.
    OtherNamespace {
        /// The pid in its own namespace.
        pid: u32,
    },
    /// The line does not name its holder completely (pid, pid namespace or
    /// start time missing), so no process can be proven to be it.
    Unnamed,
    /// The process with that pid here is not the holder.
    NotTheHolder {
        /// The pid the line gives.
        pid: u32,
        /// Why not: gone, or a process started at another time.
        why: String,
    },
    /// The kernel would not say (no lock test, no `/proc`).
    Unknown,
}

impl std::fmt::Display for HolderCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HolderCheck::NotHeld => write!(f, "no live process holds the role"),
            HolderCheck::Verified { pid } => write!(f, "pid {pid} holds the role"),
            HolderCheck::OtherNamespace { pid } => write!(
                f,
                "the holder runs in another pid namespace (another container): pid {pid} is its pid there, not here"
            ),
            HolderCheck::Unnamed => write!(
                f,
                "the holder's line does not name it completely (pid, pid namespace, start time)"
            ),
            HolderCheck::NotTheHolder { pid, why } => {
                write!(f, "pid {pid} here is not the role holder: {why}")
            }
            HolderCheck::Unknown => write!(f, "the kernel would not say who holds the role"),
        }
    }
}

/// Why [`Observer::signal_holder`] sent nothing.
#[derive(Debug, thiserror::Error)]
pub enum SignalRefused {
    /// No process could be proven to hold the role.
    #[error("{0}")]
    Unproven(HolderCheck),
    /// The holder belongs to another user than the segment's owner.
    #[error("pid {pid} runs as uid {uid}, but the segment belongs to uid {owner}; Forge signals only the owner's processes")]
    OtherUser {
        /// The holder's pid.
        pid: u32,
        /// Its uid.
        uid: u32,
        /// The segment file's owner.
        owner: u32,
    },
    /// The kernel refused the signal.
    #[error("signalling pid {pid} failed: {source}")]
    Failed {
        /// The holder's pid.
        pid: u32,
        /// The error.
        source: std::io::Error,
    },
}

impl Observer {
    /// Can the process `role`'s line names be proven to hold the role? A
    /// write lock must hold the role's byte, and the process with the
    /// line's pid, pid namespace and start time must be the one holding it:
    /// the kernel lists that lock in its `/proc/PID/fdinfo`, read through a
    /// pidfd opened before and checked alive after. Anything less is not
    /// proven: a user who may not read that process's `/proc/PID/fdinfo`
    /// (another user's, without root) gets [`HolderCheck::Unknown`]. Only
    /// when proven is `/proc/PID` about the holder.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use forge_fabric::observe::HolderCheck;
    /// use forge_fabric::{CreateOptions, Observer, Role, Segment};
    ///
    /// let name = format!("/forge_doc_verify_{}", std::process::id());
    /// let segment = Segment::create(&name, &CreateOptions::default())?;
    /// let observer = Observer::open(&name, Duration::ZERO)?;
    /// assert_eq!(observer.verify_holder(Role::Consumer), HolderCheck::NotHeld);
    /// let consumer = segment.consumer()?;
    /// let me = std::process::id();
    /// assert_eq!(observer.verify_holder(Role::Consumer), HolderCheck::Verified { pid: me });
    /// // Signal 0: only asks whether the proven holder is there.
    /// assert_eq!(observer.signal_holder(Role::Consumer, 0)?, me);
    /// # drop(consumer);
    /// segment.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn verify_holder(&self, role: Role) -> HolderCheck {
        prove(self, role).0
    }

    /// Sends `signal` to the process proven to hold `role` (see
    /// [`verify_holder`](Self::verify_holder)), through a pidfd so that it
    /// cannot reach a process that took its pid since, and only when that
    /// process belongs to the user who owns the segment: whoever can write a
    /// segment can put any pid in it. Returns the pid signalled.
    pub fn signal_holder(&self, role: Role, signal: i32) -> Result<u32, SignalRefused> {
        let (check, pidfd) = prove(self, role);
        let (HolderCheck::Verified { pid }, Some(pidfd)) = (&check, pidfd) else {
            return Err(SignalRefused::Unproven(check));
        };
        let pid = *pid;
        let owner = self.owner_uid;
        match crate::process::status(pid).map(|s| (s.ruid, s.euid)) {
            Some((Some(r), Some(e))) if r == owner && e == owner => {}
            Some((Some(r), Some(e))) => {
                return Err(SignalRefused::OtherUser {
                    pid,
                    uid: if e != owner { e } else { r },
                    owner,
                })
            }
            _ => {
                return Err(SignalRefused::Unproven(HolderCheck::NotTheHolder {
                    pid,
                    why: "its owner cannot be read".into(),
                }))
            }
        }
        pidfd
            .send(signal)
            .map(|()| pid)
            .map_err(|source| SignalRefused::Failed { pid, source })
    }
}

/// The proof, and the pidfd it was made with (for a signal that can only
/// reach the process the proof was about).
///
/// The kernel is the only witness: the process the line names must itself
/// hold a write lock on the role's byte of this segment's lock object (the
/// `lock:` lines of its `/proc/PID/fdinfo`), read through a pidfd opened
/// before and found alive after, so the lines were that process's. The
/// pid, namespace and start time the line gives only say which process to
/// ask; anyone who may write the segment can write them.
fn prove(observer: &Observer, role: Role) -> (HolderCheck, Option<Pidfd>) {
    let state = observer.role_locks()[role.index()];
    match state {
        Some(LockState::Free | LockState::ReadLocked) => return (HolderCheck::NotHeld, None),
        None => return (HolderCheck::Unknown, None),
        Some(LockState::Held) => {}
    }
    let Some(object) = observer.lock_object() else {
        return (HolderCheck::Unknown, None);
    };
    let line = observer.header().side(role);
    let claimed = Identity {
        pid: line.pid.load(Ordering::Relaxed),
        pidns: line.pidns.load(Ordering::Relaxed),
        start_ticks: line.start_ticks.load(Ordering::Relaxed),
    };
    if !claimed.is_complete() {
        return (HolderCheck::Unnamed, None);
    }
    match crate::process::own_pid_namespace() {
        None => return (HolderCheck::Unknown, None),
        Some(ours) if ours != claimed.pidns => {
            return (HolderCheck::OtherNamespace { pid: claimed.pid }, None)
        }
        Some(_) => {}
    }
    let pid = claimed.pid;
    let not = |why: String| (HolderCheck::NotTheHolder { pid, why }, None);
    // Opened before /proc is read: if the process it names is still alive
    // after the reads (checked below), the pid was not reused in between, so
    // /proc described that very process.
    let pidfd = match Pidfd::open(pid) {
        Ok(fd) => fd,
        Err(e) => return not(format!("no such process ({e})")),
    };
    let Some(stat) = crate::process::stat(pid) else {
        return not("it exited".into());
    };
    if stat.start_ticks != claimed.start_ticks {
        return not(format!(
            "it started at tick {}, the holder at tick {}: the pid was reused",
            stat.start_ticks, claimed.start_ticks
        ));
    }
    if crate::process::pid_namespace(pid) != Some(claimed.pidns) {
        return not("it lives in another pid namespace".into());
    }
    let byte = role.lock_offset();
    let holds = match crate::process::process_locks(pid) {
        Ok(locks) => locks.iter().any(|l| l.write && l.covers(object, byte)),
        // Another user's process, to a user who is not root: the kernel
        // does not tell us, so nothing is proven.
        Err(_) => return (HolderCheck::Unknown, None),
    };
    // Alive after the reads: /proc/PID was this very process all along.
    if pidfd.send(0).is_err() {
        return not("it exited".into());
    }
    if !holds {
        return not(format!(
            "it holds no write lock on byte {byte} of this segment's role-lock object \
             (inode {}): someone who may write the segment wrote its line",
            object.ino
        ));
    }
    (HolderCheck::Verified { pid }, Some(pidfd))
}
