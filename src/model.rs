//! Plain owned data: what one sample of a segment says.
//!
//! The data source ([`crate::source`]) is the only module that talks to
//! forge-fabric; it converts what fabric copies out of the segment into these
//! types. Everything else in forge-top (the app state, alarms, rendering,
//! export) works on them, so tests build them by hand.

use serde::Serialize;

/// The segment's lifecycle state, as the header says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SegState {
    /// Being written by forge-init.
    #[default]
    Initializing,
    /// Ready.
    Live,
    /// Replaced by a newer session.
    Retired,
    /// A value this build does not know.
    Unknown(u32),
}

impl SegState {
    /// Upper-case label for badges.
    pub fn label(self) -> String {
        match self {
            SegState::Initializing => "INITIALIZING".into(),
            SegState::Live => "LIVE".into(),
            SegState::Retired => "RETIRED".into(),
            SegState::Unknown(c) => format!("STATE {c}?"),
        }
    }
}

/// Which side of the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// The writer (`forge-stream`).
    #[default]
    Producer,
    /// The reader (`forge-core`).
    Consumer,
}

impl Role {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Role::Producer => "producer",
            Role::Consumer => "consumer",
        }
    }
}

/// A role's state word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RoleState {
    /// Nobody took the role since init.
    #[default]
    Vacant,
    /// Held and heart-beating.
    Active,
    /// The holder stopped cleanly.
    Stopped,
    /// A value this build does not know.
    Unknown(u32),
}

/// What `/proc/PID/status` says about a daemon.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct ProcInfo {
    /// `Name:`.
    pub comm: String,
    /// `State:` (R, S, D, Z, …).
    pub state: String,
    /// `Cpus_allowed_list:` as the kernel prints it (`1`, `0-3`).
    pub cpus_allowed: String,
    /// The core it last ran on (`/proc/PID/stat` field 39).
    pub last_cpu: Option<u32>,
    /// Resident memory, KiB.
    pub rss_kib: u64,
}

/// One side's line.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SideInfo {
    /// Producer or consumer.
    pub role: Role,
    /// `head` (producer) or `tail` (consumer).
    pub index: u64,
    /// Holder's pid, 0 when vacant (in the holder's pid namespace).
    pub pid: u32,
    /// Does a live process hold the role? The kernel's answer (its role
    /// lock), in any pid namespace; `None` if it would not say.
    pub alive: Option<bool>,
    /// Is `pid` proven to be that process here (same pid namespace, same
    /// start time)? Only then are `proc` and signals about the holder.
    pub verified: bool,
    /// Why the holder could not be proven, when it could not.
    pub holder_note: Option<String>,
    /// The holder's program name, as its line says.
    pub program: String,
    /// Role state word.
    pub role_state: RoleState,
    /// Core the holder says it pinned itself to.
    pub core: Option<u32>,
    /// What the kernel says about the holder, if it exists.
    pub proc: Option<ProcInfo>,
    /// Session the holder attached to.
    pub session: u64,
    /// Age of the last heartbeat, ns, if it ever beat.
    pub heartbeat_age_ns: Option<u64>,
    /// Frames committed (producer) or released (consumer).
    pub messages: u64,
    /// Payload bytes committed or released.
    pub bytes: u64,
    /// Times the ring was found full (producer) or empty (consumer).
    pub backpressure: u64,
    /// Commits per `head` store, or releases per `tail` store.
    pub batch: u32,
    /// `spin`, `yield`, `park` or `code N`.
    pub wait: String,
    /// Asleep on its futex right now.
    pub sleeping: bool,
    /// Time since the role was taken, ns.
    pub uptime_ns: Option<u64>,
}

/// One bar of the latency chart: samples in `[lo_ns, hi_ns)`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct LatencyBin {
    /// Inclusive lower bound, ns.
    pub lo_ns: u64,
    /// Exclusive upper bound, ns (`u64::MAX` for the last bin).
    pub hi_ns: u64,
    /// Samples.
    pub count: u64,
}

/// Transit-latency figures from the consumer's histogram.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct LatencyStats {
    /// Samples.
    pub count: u64,
    /// Mean, ns.
    pub mean_ns: Option<u64>,
    /// Quantiles, ns (bucket midpoints, within 3.2 %).
    pub p50_ns: Option<u64>,
    /// 90th percentile.
    pub p90_ns: Option<u64>,
    /// 99th percentile.
    pub p99_ns: Option<u64>,
    /// 99.9th percentile.
    pub p999_ns: Option<u64>,
    /// Largest sample ever, ns.
    pub max_ns: u64,
    /// Samples above the histogram's range.
    pub overflow: u64,
    /// Bars for the chart.
    pub bins: Vec<LatencyBin>,
}

/// Every header field at one moment, plus what forge-top derived at once.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Sample {
    /// Segment name, like `/forge_shm`.
    pub name: String,
    /// `/dev/shm/…`.
    pub path: String,
    /// Bytes mapped.
    pub file_size: u64,
    /// Layout version.
    pub layout_version: u32,
    /// Slots in the ring.
    pub slot_count: u32,
    /// Bytes per slot.
    pub slot_size: u32,
    /// Largest payload.
    pub payload_capacity: u32,
    /// The session in the header.
    pub session_id: u64,
    /// Lifecycle state.
    pub state: SegState,
    /// The session that replaced this one, when retired.
    pub successor_session: u64,
    /// forge-init's pid.
    pub init_pid: u32,
    /// Creation time, ns since the Unix epoch.
    pub created_unix_ns: u64,
    /// Session age, ns.
    pub age_ns: u64,
    /// Producer line.
    pub producer: SideInfo,
    /// Consumer line.
    pub consumer: SideInfo,
    /// `head`.
    pub head: u64,
    /// `tail`.
    pub tail: u64,
    /// Latency since the consumer began.
    pub latency: LatencyStats,
    /// Latency over the last second or so.
    pub latency_recent: LatencyStats,
    /// Broken header invariants, as sentences.
    pub violations: Vec<String>,
}

impl Sample {
    /// Frames published and not yet released.
    pub fn in_flight(&self) -> u64 {
        self.head.saturating_sub(self.tail)
    }

    /// `in_flight / slot_count`, clamped to 0..=1.
    pub fn fill_ratio(&self) -> f64 {
        if self.slot_count == 0 {
            return 0.0;
        }
        (self.in_flight() as f64 / f64::from(self.slot_count)).min(1.0)
    }

    /// The side by role.
    pub fn side(&self, role: Role) -> &SideInfo {
        match role {
            Role::Producer => &self.producer,
            Role::Consumer => &self.consumer,
        }
    }

    /// Is slot `index` one the producer may be writing right now: at `head`,
    /// or up to its publish batch beyond? A copy of it is expected to tear.
    pub fn producer_may_write(&self, index: u32) -> bool {
        if self.slot_count == 0 {
            return false;
        }
        let n = u64::from(self.slot_count);
        let ahead = (u64::from(index) + n - self.head % n) % n;
        ahead < u64::from(self.producer.batch.max(1))
    }
}

/// A slot's place in the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SlotState {
    /// Published, not yet released.
    Pending,
    /// Released; holds an old frame.
    Consumed,
    /// Never written in this session.
    #[default]
    Free,
}

impl SlotState {
    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            SlotState::Pending => "pending",
            SlotState::Consumed => "consumed",
            SlotState::Free => "free",
        }
    }
}

/// A slot's payload decoded as a telemetry frame.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct FrameInfo {
    /// Sequence number.
    pub sequence: u64,
    /// Producer's CLOCK_MONOTONIC ns at write.
    pub timestamp_ns: u64,
    /// Source id.
    pub source_id: u32,
    /// Kind name.
    pub kind: String,
    /// Body length the header claims.
    pub body_len: u32,
    /// Checksum from the header.
    pub checksum: u32,
    /// Did the body hash to `checksum` (and match `body_len`)?
    pub valid: bool,
    /// Why not, when not.
    pub error: Option<String>,
    /// Body bytes, printable where they are text.
    pub body_preview: String,
}

/// A slot copied out of the ring.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SlotView {
    /// Slot index.
    pub index: u32,
    /// Ring position the stamp says it holds.
    pub position: Option<u64>,
    /// Pending, consumed or free.
    pub state: SlotState,
    /// Payload length from the slot word.
    pub len: u16,
    /// Flags from the slot word.
    pub flags: u16,
    /// Stamp from the slot word.
    pub stamp: u32,
    /// The producer may have overwritten it during the copy.
    pub torn: bool,
    /// The bytes copied (the whole payload for the selected slot; the
    /// frame header only for list rows).
    #[serde(skip)]
    pub bytes: Vec<u8>,
    /// The frame, if it decodes (header fields even when the body fails).
    pub frame: Option<FrameInfo>,
    /// Why the header does not decode, if it does not.
    pub frame_error: Option<String>,
}

/// forge-top itself, from `/proc/self`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct SelfInfo {
    /// Our pid.
    pub pid: u32,
    /// The core we last ran on.
    pub cpu: Option<u32>,
    /// Resident memory, KiB.
    pub rss_kib: u64,
    /// User + system CPU time, ns.
    pub cpu_time_ns: u64,
    /// Cores forge-top may run on (`Cpus_allowed_list`); empty if unknown.
    pub allowed_cores: Vec<u32>,
}

/// How the source is attached to the name.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
#[serde(tag = "state", rename_all = "lowercase")]
pub enum Link {
    /// Nothing attached yet; `reason` says why (missing, initializing, …).
    #[default]
    Waiting,
    /// Mapped and sampling.
    Attached,
    /// Was attached; the mapping can no longer be trusted (truncated,
    /// garbage). The last good view stays on screen.
    Lost,
}

/// Something that happened to the attachment, reported once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SourceNote {
    /// Attached to a session.
    Attached {
        /// The session.
        session: u64,
    },
    /// The header says our session was retired.
    Retired {
        /// Our session.
        old: u64,
        /// Its successor, 0 if unknown.
        new: u64,
    },
    /// The name now leads to another object.
    Replaced {
        /// The session we map.
        old: u64,
    },
    /// Nothing has the name any more (we still map the old object).
    Unlinked {
        /// The session we map.
        session: u64,
    },
    /// Re-attached by name to a new session.
    Reattached {
        /// The previous session.
        old: u64,
        /// The new one.
        new: u64,
    },
    /// The file shrank under the mapping.
    Truncated {
        /// Its size now.
        now: u64,
        /// The size mapped.
        mapped: u64,
    },
    /// The header no longer reads as the segment we attached to.
    Corrupt {
        /// What is wrong.
        what: String,
    },
    /// The header reads sound again.
    Recovered,
    /// Opening the name failed in a new way.
    OpenFailed {
        /// The error.
        error: String,
    },
    /// The object is owned by another user, or others may write it.
    Ownership {
        /// Owner and mode, in words.
        warning: String,
    },
}

/// What one tick of the data source brings.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observation {
    /// CLOCK_MONOTONIC ns when taken.
    pub mono_ns: u64,
    /// Wall clock, ns since the Unix epoch (for log timestamps).
    pub unix_ns: u64,
    /// How we are attached.
    pub link: Link,
    /// Why we are waiting or lost, when we are.
    pub reason: Option<String>,
    /// The header, when it could be read and trusted.
    pub sample: Option<Sample>,
    /// The slots that were asked for, in order.
    pub slots: Vec<SlotView>,
    /// The selected slot, with its whole payload.
    pub detail: Option<SlotView>,
    /// What changed in the attachment.
    pub notes: Vec<SourceNote>,
    /// forge-top itself.
    pub me: SelfInfo,
}

/// Which slots the next observation should copy: only those on screen.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlotRequest {
    /// First slot index of the list.
    pub first: u32,
    /// How many list rows.
    pub count: u32,
    /// The selected slot (copied whole).
    pub selected: Option<u32>,
    /// Select the newest frame (`head - 1`) of the new sample instead, and
    /// scroll the list to it.
    pub follow: bool,
}

/// The first list row that keeps `selected` in a window of `rows` rows,
/// moving the window as little as possible from `first`.
pub fn scroll_to(first: u32, rows: u32, selected: u32, slot_count: u32) -> u32 {
    if rows == 0 || slot_count == 0 {
        return 0;
    }
    let max_first = slot_count.saturating_sub(rows);
    let first = if selected < first {
        selected
    } else if selected >= first.saturating_add(rows) {
        selected + 1 - rows
    } else {
        first
    };
    first.min(max_first)
}

/// The slot holding the newest frame, if any was ever published.
pub fn newest_slot(head: u64, slot_count: u32) -> Option<u32> {
    (head > 0 && slot_count > 0).then(|| ((head - 1) % u64::from(slot_count)) as u32)
}
