//! Every ring of the host at one moment, as plain data: what the host view
//! and `--all --once` show. The source ([`crate::source::host`]) fills it
//! from fabric's host scanner; liveness and alarms are the app's to decide,
//! by the same rules as for one ring.

use serde::Serialize;

pub use forge_fabric::observe::host::Unreadable as UnreadableReason;

use super::{Sample, SelfInfo, Unreadable};

/// What one name in `/dev/shm` holds at this sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RingStatus {
    /// Its header, read (live, or retired under a mapping kept from before).
    Sampled(Box<Sample>),
    /// forge-init is still writing it (or died doing so).
    Initializing {
        /// The initializing forge-init's pid, 0 if not yet written.
        init_pid: u32,
    },
    /// Retired and not yet unlinked: a re-initialization under way, or one
    /// that could not finish.
    Retired {
        /// The retired session.
        session: u64,
        /// The session that replaced it.
        successor: u64,
    },
    /// Could not be read.
    Unreadable {
        /// Why, as a bounded set.
        reason: UnreadableReason,
        /// Why, in words.
        detail: String,
        /// Who owns it and its mode, when the kernel refused us.
        owner: Option<Unreadable>,
    },
}

/// One ring of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RingObservation {
    /// Its name, `/forge_shm`.
    pub name: String,
    /// What it holds now.
    pub status: RingStatus,
    /// How many times the name led to another session than the one before,
    /// since forge-top first saw it.
    pub session_changes: u64,
}

impl RingObservation {
    /// The sample, when the ring could be read.
    pub fn sample(&self) -> Option<&Sample> {
        match &self.status {
            RingStatus::Sampled(s) => Some(s),
            _ => None,
        }
    }
}

/// Something that happened to the host's rings since the previous sample.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum HostChange {
    /// A name not seen before (every ring is new at the first sample).
    Appeared {
        /// The ring.
        name: String,
    },
    /// The name now leads to another session (a re-initialization).
    Replaced {
        /// The ring.
        name: String,
        /// The session before.
        #[serde(serialize_with = "forge_fabric::vocab::serialize_session")]
        old: u64,
        /// The session now.
        #[serde(serialize_with = "forge_fabric::vocab::serialize_session")]
        new: u64,
    },
    /// The name is gone.
    Disappeared {
        /// The ring.
        name: String,
    },
}

/// What one tick of the host source brings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct HostObservation {
    /// CLOCK_MONOTONIC ns when taken.
    pub mono_ns: u64,
    /// Wall clock, ns since the Unix epoch.
    pub unix_ns: u64,
    /// How long listing and reading every ring took, ns.
    pub took_ns: u64,
    /// Every ring, by name.
    pub rings: Vec<RingObservation>,
    /// What changed since the previous sample.
    pub changes: Vec<HostChange>,
    /// Objects in `/dev/shm` that are not Forge rings.
    pub not_forge: usize,
    /// forge-top itself.
    pub me: SelfInfo,
}
