//! Holding a role: the kernel lock that makes it ours, and the line of the
//! header that tells everyone who we are.
//!
//! ```text
//!  claim:    take the role lock (refused: RoleError::Held)
//!  attach:   the ring checks indices and stamps (refused: RoleError::Corrupt)
//!  activate: pid, pidns, start time, uid, flags, program, session, core,
//!            heartbeat, started — then role_state = active (Release)
//!  …         heartbeat, batch, latency samples
//!  drop:     role_state = stopped, pid = 0 (same session only), unlock
//! ```

use std::ptr::NonNull;
use std::sync::atomic::Ordering as Std;
use std::sync::Arc;

use super::claim::Claim;
use super::locks::{self, LockState};
use super::mapping::Mapping;
use super::sys;
use super::validate::{check_session, Geometry};
use crate::clock::monotonic_ns;
use crate::error::{RoleError, SessionError};
use crate::layout::*;
use crate::sync::Ordering;
use crate::vocab::{Role, RoleState};

/// A held role. Released on drop.
pub(crate) struct HeldRole {
    header: NonNull<Header>,
    role: Role,
    geometry: Geometry,
    pid: u32,
    /// Activated: the line says we hold the role.
    active: bool,
    keep: Arc<Mapping>,
}

// SAFETY: `header` points into `keep`'s mapping; only atomics are touched.
unsafe impl Send for HeldRole {}

impl std::fmt::Debug for HeldRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HeldRole")
            .field("role", &self.role)
            .field("session", &format_args!("{:#018x}", self.geometry.session))
            .field("active", &self.active)
            .finish()
    }
}

impl HeldRole {
    /// Takes `role`'s lock through `map`, the mapping of a segment opened in
    /// `geometry`'s session. The kernel decides who holds a role, in any pid
    /// namespace: the lock stays with a live holder (even a stopped one) and
    /// is dropped when it dies, however it dies.
    pub(crate) fn claim(
        map: &Arc<Mapping>,
        geometry: Geometry,
        role: Role,
    ) -> Result<HeldRole, RoleError> {
        let header = map.header();
        check_session(header, &geometry)?;
        let line = header.side(role);
        let held = || RoleError::Held {
            role,
            pid: line.pid.load(Ordering::Relaxed),
            program: line.program_name(),
        };
        // One claim per role through one segment handle: the kernel would
        // not stop a second one (the lock is the same open file's).
        let mine = &map.claimed[role.index()];
        if mine.swap(true, Std::Relaxed) {
            return Err(held());
        }
        let unclaim = |e: RoleError| {
            mine.store(false, Std::Relaxed);
            e
        };
        match sys::lock_role(map.lock_file(), role) {
            Ok(true) => {}
            // Only a write lock is a holder. A read lock in the way was
            // taken by a process that may read the object: on a segment of
            // an older layout, any reader. Say so, and who, when the
            // kernel tells us.
            Ok(false) if locks::state(map.lock_file(), role) == Some(LockState::ReadLocked) => {
                return Err(unclaim(RoleError::Blocked {
                    role,
                    by: locks::squatters(map.locks.object, role),
                    on_segment: map.locks.file.is_none(),
                }))
            }
            Ok(false) => return Err(unclaim(held())),
            Err(source) => return Err(unclaim(RoleError::Lock { role, source })),
        }
        Ok(HeldRole {
            header: NonNull::from(header),
            role,
            geometry,
            pid: std::process::id(),
            active: false,
            keep: map.clone(),
        })
    }

    /// Writes who we are into the line and marks the role active: after the
    /// attach checks passed, so a refused attach leaves the line as it was.
    pub(crate) fn activate(&mut self, claim: &Claim) {
        // The previous holder is gone: its stores are visible to us through
        // the kernel's lock hand-over (and its release stores).
        let line = self.line();
        let me = crate::process::Identity::current();
        let now = monotonic_ns();
        line.pid.store(me.pid, Ordering::Relaxed);
        line.pidns.store(me.pidns, Ordering::Relaxed);
        line.start_ticks.store(me.start_ticks, Ordering::Relaxed);
        line.uid.store(sys::euid(), Ordering::Relaxed);
        line.flags.store(claim.holder_flags(), Ordering::Relaxed);
        let program = if claim.program_name().is_empty() {
            crate::process::program_name()
        } else {
            claim.program_name().to_owned()
        };
        let mut name = [0u8; 16];
        for (dst, src) in name.iter_mut().zip(program.bytes()) {
            *dst = src;
        }
        let (lo, hi) = name.split_at(8);
        let word = |b: &[u8]| u64::from_le_bytes(b.try_into().expect("8 bytes"));
        line.program[0].store(word(lo), Ordering::Relaxed);
        line.program[1].store(word(hi), Ordering::Relaxed);
        line.session.store(self.geometry.session, Ordering::Relaxed);
        line.core
            .store(claim.core().unwrap_or(CORE_NONE), Ordering::Relaxed);
        line.heartbeat_ns.store(now, Ordering::Relaxed);
        line.started_mono_ns.store(now, Ordering::Relaxed);
        if self.role == Role::Producer {
            // A new holder says its own pace, or none.
            let pace = &self.header().pace;
            pace.target_rate.store(0, Ordering::Relaxed);
            pace.burst.store(0, Ordering::Relaxed);
            pace.bursts.store(0, Ordering::Relaxed);
        }
        // SYNC: pairs with the Acquire load of role_state in observers: the
        // fields above are visible with ACTIVE.
        line.role_state
            .store(RoleState::Active.code(), Ordering::Release);
        self.active = true;
    }

    fn header(&self) -> &Header {
        // SAFETY: `keep` owns the mapping `header` points into.
        unsafe { self.header.as_ref() }
    }

    fn line(&self) -> &SideLine {
        self.header().side(self.role)
    }

    pub(crate) fn check_session(&self) -> Result<(), SessionError> {
        check_session(self.header(), &self.geometry)
    }

    pub(crate) fn heartbeat(&self) {
        self.line()
            .heartbeat_ns
            .store(monotonic_ns(), Ordering::Relaxed);
    }

    pub(crate) fn session(&self) -> u64 {
        self.geometry.session
    }
}

impl Drop for HeldRole {
    fn drop(&mut self) {
        // Never write into a segment of another session, nor into a damaged
        // one; the lock goes either way. A retired segment still carries
        // our session: leaving it is a clean stop, and says so (an observer
        // would otherwise see an active role nobody holds: a death).
        let ours = matches!(
            self.check_session(),
            Ok(()) | Err(SessionError::Retired { .. })
        );
        if self.active && ours {
            let line = self.line();
            line.heartbeat_ns.store(monotonic_ns(), Ordering::Relaxed);
            // SYNC: pairs with the Acquire load of role_state in observers.
            line.role_state
                .store(RoleState::Stopped.code(), Ordering::Release);
            if line.pid.load(Ordering::Relaxed) == self.pid {
                line.pid.store(0, Ordering::Relaxed);
            }
        }
        sys::unlock_role(self.keep.lock_file(), self.role);
        self.keep.claimed[self.role.index()].store(false, Std::Relaxed);
    }
}
