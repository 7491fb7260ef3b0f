//! What the facts of one sample mean: each role's liveness and the active
//! alarms, by kind. Liveness is fabric's one rule ([`Liveness::judge`]),
//! the one forge-top applies (alive when the kernel says a process holds
//! the role's lock; stalled when that process has not beaten for `stale`;
//! dead when its line still says active but nobody holds the lock), with
//! thresholds from the command line.

use std::time::Duration;

use forge_fabric::observe::host::{RingEntry, RingState};
pub use forge_fabric::observe::Liveness;
use forge_fabric::observe::Problem;
use forge_fabric::{Role, SegmentState, Snapshot};

/// When a condition becomes an alarm.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Thresholds {
    /// A heartbeat older than this is stale.
    pub stale: Duration,
    /// A ring full for longer than this is an alarm.
    pub full: Duration,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            stale: Duration::from_secs(2),
            full: Duration::from_secs(1),
        }
    }
}

/// Alarms about a whole ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RingAlarm {
    /// The header no longer reads as the segment that was mapped (magic,
    /// version, geometry, state or session overwritten).
    Header,
    /// Indices or slot stamps that cannot be true: a published frame whose
    /// slot word was overwritten, tail past head, more in flight than slots.
    Damaged,
    /// The segment was retired (re-initialization under way).
    Retired,
    /// Every slot in flight for longer than the `full` threshold.
    RingFull,
}

impl RingAlarm {
    /// Every kind, in the order series are written.
    pub const ALL: [RingAlarm; 4] = [
        RingAlarm::Header,
        RingAlarm::Damaged,
        RingAlarm::Retired,
        RingAlarm::RingFull,
    ];

    /// The `kind` label's value.
    pub fn name(self) -> &'static str {
        match self {
            RingAlarm::Header => "header",
            RingAlarm::Damaged => "damaged",
            RingAlarm::Retired => "retired",
            RingAlarm::RingFull => "ring_full",
        }
    }
}

/// Alarms about one role.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleAlarm {
    /// The line says active but no process holds the role's lock.
    Dead,
    /// The holder lives but its heartbeat is stale.
    Stalled,
    /// A live holder attached to another session than the header's.
    EpochMismatch,
}

impl RoleAlarm {
    /// Every kind, in the order series are written.
    pub const ALL: [RoleAlarm; 3] = [
        RoleAlarm::Dead,
        RoleAlarm::Stalled,
        RoleAlarm::EpochMismatch,
    ];

    /// The `kind` label's value.
    pub fn name(self) -> &'static str {
        match self {
            RoleAlarm::Dead => "dead",
            RoleAlarm::Stalled => "stalled",
            RoleAlarm::EpochMismatch => "epoch_mismatch",
        }
    }
}

/// Is `alarm` active on the ring `entry`, sampled as `snap`?
pub fn ring_alarm(alarm: RingAlarm, entry: &RingEntry, snap: &Snapshot, th: Thresholds) -> bool {
    match alarm {
        RingAlarm::Header => snap.problems().iter().any(Problem::breaks_identity),
        RingAlarm::Damaged => snap.problems().iter().any(|p| !p.breaks_identity()),
        RingAlarm::Retired => snap.state() == SegmentState::Retired,
        RingAlarm::RingFull => entry.full_since_mono_ns.is_some_and(|since| {
            snap.taken_mono_ns.saturating_sub(since) >= th.full.as_nanos() as u64
        }),
    }
}

/// Is `alarm` active on `role` of the ring sampled as `snap`?
pub fn role_alarm(alarm: RoleAlarm, role: Role, snap: &Snapshot, th: Thresholds) -> bool {
    let line = snap.side(role);
    match alarm {
        RoleAlarm::Dead => line.liveness(snap.taken_mono_ns, th.stale) == Liveness::Dead,
        RoleAlarm::Stalled => line.liveness(snap.taken_mono_ns, th.stale) == Liveness::Stalled,
        RoleAlarm::EpochMismatch => {
            line.lock_held == Some(true)
                && line.session != 0
                && line.session != snap.identity.session_id
        }
    }
}

/// The ring's state as the `state` label says it.
pub fn ring_state(entry: &RingEntry) -> &'static str {
    match &entry.state {
        RingState::Sampled(s) => match s.state().known() {
            Some(SegmentState::Initializing) => "initializing",
            Some(SegmentState::Live) => "live",
            Some(SegmentState::Retired) => "retired",
            None => "unknown",
        },
        RingState::Initializing { .. } => "initializing",
        RingState::Retired { .. } => "retired",
        RingState::Unreadable { .. } => "unreadable",
    }
}

/// Every value [`ring_state`] returns.
pub const RING_STATES: [&str; 5] = ["initializing", "live", "retired", "unreadable", "unknown"];

#[cfg(test)]
mod tests {
    use super::*;
    use forge_fabric::observe::SideSnapshot;
    use forge_fabric::{Coded, RoleState};

    fn line(lock: Option<bool>, state: RoleState, heartbeat_ns: u64) -> SideSnapshot {
        SideSnapshot {
            lock_held: lock,
            role_state: Coded::Known(state),
            heartbeat_ns,
            ..SideSnapshot::default()
        }
    }

    #[test]
    fn liveness_follows_the_lock_then_the_heartbeat() {
        let stale = Duration::from_secs(2);
        let now = 10_000_000_000;
        let cases = [
            (
                Some(true),
                RoleState::Active,
                now - 1_000,
                Liveness::Running,
            ),
            (
                Some(true),
                RoleState::Active,
                now - 3_000_000_000,
                Liveness::Stalled,
            ),
            (Some(false), RoleState::Active, now, Liveness::Dead),
            (Some(false), RoleState::Stopped, now, Liveness::Stopped),
            (Some(false), RoleState::Vacant, 0, Liveness::Vacant),
            (None, RoleState::Vacant, 0, Liveness::Vacant),
            (None, RoleState::Active, now, Liveness::Unknown),
        ];
        for (lock, state, beat, want) in cases {
            assert_eq!(
                line(lock, state, beat).liveness(now, stale),
                want,
                "{lock:?} {state:?}"
            );
        }
    }

    #[test]
    fn a_live_holder_of_another_session_is_an_epoch_mismatch() {
        let mut snap = Snapshot::default();
        snap.identity.session_id = 7;
        snap.producer = line(Some(true), RoleState::Active, 0);
        snap.producer.session = 8;
        let th = Thresholds::default();
        assert!(role_alarm(
            RoleAlarm::EpochMismatch,
            Role::Producer,
            &snap,
            th
        ));
        snap.producer.session = 7;
        assert!(!role_alarm(
            RoleAlarm::EpochMismatch,
            Role::Producer,
            &snap,
            th
        ));
        // A dead holder's old session is no mismatch: it writes nothing.
        snap.producer = line(Some(false), RoleState::Active, 0);
        snap.producer.session = 8;
        assert!(!role_alarm(
            RoleAlarm::EpochMismatch,
            Role::Producer,
            &snap,
            th
        ));
        assert!(role_alarm(RoleAlarm::Dead, Role::Producer, &snap, th));
    }
}
