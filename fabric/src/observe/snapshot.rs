//! A segment's header copied out at one moment, and what it says: which
//! slots hold what, and what is wrong.

use std::time::Duration;

use crate::error::Corruption;
use crate::hist::Histogram;
use crate::layout::*;
use crate::position::Position;
use crate::process::Identity;
use crate::segment::{HeaderProblem, IdentitySnapshot};
use crate::sync::Ordering;
use crate::vocab::{Coded, Role, RoleState, SegmentState, SlotState};
use crate::wait::WaitStrategy;

use super::liveness::Liveness;

/// One side's line, copied out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct SideSnapshot {
    /// `head` (producer) or `tail` (consumer).
    pub index: u64,
    /// Asleep on its futex right now.
    pub sleeping: bool,
    /// How it waits.
    pub wait_strategy: Coded<WaitStrategy>,
    /// Role holder's pid, 0 when vacant (in the holder's pid namespace).
    pub pid: u32,
    /// Core the holder pinned itself to.
    pub core: Option<u32>,
    /// Session the holder attached to.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::vocab::serialize_session")
    )]
    pub session: u64,
    /// CLOCK_MONOTONIC ns of the last heartbeat.
    pub heartbeat_ns: u64,
    /// Frames committed or released.
    pub messages: u64,
    /// Payload bytes committed or released.
    pub bytes: u64,
    /// Times the ring was found full (producer) or empty (consumer).
    pub backpressure: u64,
    /// What the `role_state` word says.
    pub role_state: Coded<RoleState>,
    /// Commits per `head` store, or releases per `tail` store (at least 1).
    pub batch: u32,
    /// CLOCK_MONOTONIC ns when the role was taken.
    pub started_mono_ns: u64,
    /// Inode of the holder's pid namespace, 0 if unknown.
    pub pidns: u64,
    /// The holder's start time, clock ticks after boot, 0 if unknown.
    pub start_ticks: u64,
    /// The holder's effective uid.
    pub uid: u32,
    /// `HOLDER_*` bits.
    pub flags: u32,
    /// The holder's program name, as written (printable ASCII only; any
    /// other byte shows as `?`).
    pub program: String,
    /// Does a live process hold the role's lock right now? The kernel's
    /// answer, whatever the pid says; `None` if it would not say.
    pub lock_held: Option<bool>,
    /// Producer: the session relayed frames come from (a bridge's origin),
    /// 0 when not said.
    #[cfg_attr(
        feature = "serde",
        serde(serialize_with = "crate::vocab::serialize_session")
    )]
    pub relay_session: u64,
}

impl SideSnapshot {
    pub(super) fn read(line: &SideLine) -> Self {
        // SYNC: pairs with the Release store of role_state in
        // `HeldRole::activate`: the fields it wrote before are visible.
        let role_state = line.role_state.load(Ordering::Acquire);
        let core = line.core.load(Ordering::Relaxed);
        SideSnapshot {
            // SYNC: pairs with the Release stores of head in
            // `Producer::store_head` and of tail in `Consumer::store_tail`.
            index: line.index.load(Ordering::Acquire),
            sleeping: line.sleeping.load(Ordering::Relaxed) != 0,
            wait_strategy: Coded::from_code(line.wait_strategy.load(Ordering::Relaxed)),
            pid: line.pid.load(Ordering::Relaxed),
            core: (core != CORE_NONE).then_some(core),
            session: line.session.load(Ordering::Relaxed),
            heartbeat_ns: line.heartbeat_ns.load(Ordering::Relaxed),
            messages: line.messages.load(Ordering::Relaxed),
            bytes: line.bytes.load(Ordering::Relaxed),
            backpressure: line.backpressure.load(Ordering::Relaxed),
            role_state: Coded::from_code(role_state),
            batch: line.batch.load(Ordering::Relaxed).max(1),
            started_mono_ns: line.started_mono_ns.load(Ordering::Relaxed),
            pidns: line.pidns.load(Ordering::Relaxed),
            start_ticks: line.start_ticks.load(Ordering::Relaxed),
            uid: line.uid.load(Ordering::Relaxed),
            flags: line.flags.load(Ordering::Relaxed),
            program: line.program_name(),
            lock_held: None,
            relay_session: line.relay_session.load(Ordering::Relaxed),
        }
    }

    /// The holder as its line names it.
    pub fn identity(&self) -> Identity {
        Identity {
            pid: self.pid,
            pidns: self.pidns,
            start_ticks: self.start_ticks,
        }
    }

    /// Heartbeat age at `now_ns` (CLOCK_MONOTONIC), if it ever beat.
    pub fn heartbeat_age(&self, now_ns: u64) -> Option<Duration> {
        (self.heartbeat_ns != 0)
            .then(|| Duration::from_nanos(now_ns.saturating_sub(self.heartbeat_ns)))
    }

    /// The role's [`Liveness`] at `now_ns`
    /// (CLOCK_MONOTONIC) from this line's facts: the kernel's answer on the
    /// role lock ([`lock_held`](Self::lock_held)), the state word and the
    /// heartbeat's age against `stale`.
    pub fn liveness(&self, now_ns: u64, stale: Duration) -> Liveness {
        Liveness::judge(
            self.lock_held,
            self.role_state.known(),
            self.heartbeat_age(now_ns),
            stale,
        )
    }
}

/// What the producer says it aims for (its pace line).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct PaceSnapshot {
    /// Frames per second it aims for; 0 = as fast as the ring allows.
    pub target_rate: u64,
    /// Frames per burst; 0 = it takes no bursts.
    pub burst: u64,
    /// Bursts taken since it took the role.
    pub bursts: u64,
}

impl PaceSnapshot {
    pub(super) fn read(line: &PaceLine) -> Self {
        PaceSnapshot {
            target_rate: line.target_rate.load(Ordering::Relaxed),
            burst: line.burst.load(Ordering::Relaxed),
            bursts: line.bursts.load(Ordering::Relaxed),
        }
    }
}

/// Every header field, copied out at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct Snapshot {
    /// Segment name.
    pub name: String,
    /// Bytes mapped.
    pub file_size: u64,
    /// The identity line.
    pub identity: IdentitySnapshot,
    /// Slots mapped (the identity's `slot_count` when the segment was
    /// opened; the one to index slots by).
    pub slot_count: u32,
    /// The producer's line.
    pub producer: SideSnapshot,
    /// The consumer's line.
    pub consumer: SideSnapshot,
    /// What the producer aims for.
    pub pace: PaceSnapshot,
    /// The consumer's latency histogram.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub latency: Histogram,
    /// `head`, read after `tail`.
    pub head: u64,
    /// `tail`.
    pub tail: u64,
    /// The first frame between `tail` and `head` whose slot does not hold
    /// its stamp: `head` says it was published, so its slot word was
    /// damaged, and the consumer will stop there for good. Only positions at
    /// or past `tail` as re-read after the word loads count, so a slot
    /// rewritten for the next lap is never taken for damage. At most
    /// [`super::DAMAGE_SCAN`] positions are looked at per snapshot.
    pub damaged: Option<Corruption>,
    /// The newest frame's position. `head` is stored every `batch` frames,
    /// so up to `batch - 1` newer frames may be published after it, and
    /// `tail` may be as far ahead of `head`; this is the highest position
    /// up to where the producer can have reached whose slot carries its
    /// stamp (LAYOUT.md, rule 8). `None` before the first frame.
    pub newest: Option<u64>,
    /// CLOCK_MONOTONIC ns when sampled.
    pub taken_mono_ns: u64,
}

/// Something wrong that a snapshot shows.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// The magic is not Forge's.
    #[error("magic is {found:#018x}, expected {MAGIC:#018x}")]
    NotForge {
        /// The magic found.
        found: u64,
    },
    /// Another layout version.
    #[error(
        "layout version is {found}, expected one of {:?}",
        crate::layout::READABLE_LAYOUT_VERSIONS
    )]
    Version {
        /// The version found.
        found: u32,
    },
    /// The identity line's geometry, state or session is wrong.
    #[error("{0}")]
    Header(HeaderProblem),
    /// The identity now declares another geometry than the one mapped.
    #[error("the header now declares {found} slots in {declared_bytes} bytes, but {mapped} slots in {mapped_bytes} bytes were mapped")]
    Remapped {
        /// Slots the header declares now.
        found: u32,
        /// Slots validated and mapped.
        mapped: u32,
        /// Bytes the header declares now.
        declared_bytes: u64,
        /// Bytes mapped.
        mapped_bytes: u64,
    },
    /// `tail` is further ahead of `head` than the publish batch allows.
    #[error("tail {tail} is ahead of head {head} by more than the publish batch {batch}")]
    TailAhead {
        /// `head`.
        head: u64,
        /// `tail`.
        tail: u64,
        /// The producer's batch.
        batch: u32,
    },
    /// More frames in flight than slots.
    #[error("{in_flight} frames in flight exceed the {slots} slots")]
    Overfull {
        /// `head - tail`.
        in_flight: u64,
        /// Slots.
        slots: u32,
    },
    /// A published frame's slot word was damaged.
    #[error("{}: {damage}", if *.at_tail { "the ring is stuck" } else { "a frame ahead of the consumer is damaged" })]
    Damaged {
        /// What was found.
        damage: Corruption,
        /// The consumer is at it now (and cannot pass it).
        at_tail: bool,
    },
}

impl Problem {
    /// Does the header no longer read as the segment that was mapped (as
    /// opposed to a ring whose indices or slots are wrong)?
    pub fn breaks_identity(&self) -> bool {
        matches!(
            self,
            Problem::NotForge { .. }
                | Problem::Version { .. }
                | Problem::Header(_)
                | Problem::Remapped { .. }
        )
    }
}

impl Snapshot {
    /// `role`'s line.
    pub fn side(&self, role: Role) -> &SideSnapshot {
        match role {
            Role::Producer => &self.producer,
            Role::Consumer => &self.consumer,
        }
    }

    /// Frames published and not yet released, as far as the indices say
    /// (0 when `tail` is ahead of `head`, which a batched head allows).
    pub fn in_flight(&self) -> u64 {
        Position::new(self.head).since(Position::new(self.tail))
    }

    /// `in_flight / slot_count`, 0..=1 for a sound header.
    pub fn fill_ratio(&self) -> f64 {
        if self.slot_count == 0 {
            return 0.0;
        }
        self.in_flight() as f64 / f64::from(self.slot_count)
    }

    /// What is wrong, identity first (see [`Problem::breaks_identity`]).
    /// Empty for a sound segment. The identity is checked with the same
    /// function that opening a segment uses.
    pub fn problems(&self) -> Vec<Problem> {
        let id = &self.identity;
        if id.magic != MAGIC {
            return vec![Problem::NotForge { found: id.magic }];
        }
        if !READABLE_LAYOUT_VERSIONS.contains(&id.layout_version) {
            return vec![Problem::Version {
                found: id.layout_version,
            }];
        }
        let mut out: Vec<Problem> = id.problem().map(Problem::Header).into_iter().collect();
        // A sound identity's size follows from its slot count and payload
        // capacity, so comparing sizes catches a change of either.
        if out.is_empty() && (id.slot_count != self.slot_count || id.segment_size != self.file_size)
        {
            out.push(Problem::Remapped {
                found: id.slot_count,
                mapped: self.slot_count,
                declared_bytes: id.segment_size,
                mapped_bytes: self.file_size,
            });
        }
        let batch = self.producer.batch;
        if Position::new(self.tail).ahead_of(Position::new(self.head)) > i64::from(batch) {
            out.push(Problem::TailAhead {
                head: self.head,
                tail: self.tail,
                batch,
            });
        }
        if self.in_flight() > u64::from(self.slot_count) {
            out.push(Problem::Overfull {
                in_flight: self.in_flight(),
                slots: self.slot_count,
            });
        }
        if let Some(damage) = &self.damaged {
            let at_tail =
                matches!(damage, Corruption::Stamp { position, .. } if *position == self.tail);
            out.push(Problem::Damaged {
                damage: damage.clone(),
                at_tail,
            });
        }
        out
    }

    /// The state the identity line says.
    pub fn state(&self) -> Coded<SegmentState> {
        self.identity.state
    }

    /// The ring position whose frame slot `index` holds or last held,
    /// relative to this snapshot's `head`, and the slot's state, from the
    /// indices alone (a slot copy's stamp says it for sure: see
    /// [`crate::Observer::read_slot`]). A position from `tail` up to `head`
    /// is pending; one before `tail` was consumed, unless it lies before
    /// the wrap from `head` (2^64 - 1 to 0) while `tail` does not: then the
    /// indices cannot tell it from a slot of a ring made at position 0 that
    /// never held a frame, and it is free.
    pub fn slot_state(&self, index: u32) -> (SlotState, Option<u64>) {
        if !self.slot_count.is_power_of_two() || index >= self.slot_count {
            return (SlotState::Free, None);
        }
        let (head, tail) = (Position::new(self.head), Position::new(self.tail));
        let pos = head.last_in_slot_before(index, self.slot_count);
        if !pos.is_before(tail) {
            return (SlotState::Pending, Some(pos.get()));
        }
        if pos.wraps_before(head) && !tail.wraps_before(head) {
            return (SlotState::Free, None);
        }
        (SlotState::Consumed, Some(pos.get()))
    }
}
