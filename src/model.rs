//! Plain owned data: what one sample of a segment says.
//!
//! The data source ([`crate::source`]) is the only module that talks to
//! forge-fabric; it converts what fabric copies out of the segment into these
//! types. Everything else in forge-top (the app state, alarms, rendering,
//! export) works on them, so tests build them by hand.

use serde::Serialize;

pub mod errors;
pub mod host;
mod image;

pub use errors::{BurstError, ListError, SaveError, SeekError};
pub use forge_cli::human;
pub use forge_fabric::layout::{FRAME_RELAYED, HOLDER_RELAYED};
pub use forge_fabric::observe::{Liveness, SideSnapshot, SlotCopy, Snapshot};
/// Ring positions wrap at 2^64: every comparison and distance goes through
/// this (ratatui has a `Position` of its own).
pub use forge_fabric::Position as RingPosition;
pub use forge_fabric::{shm_path, SegmentError, DEFAULT_SEGMENT};
pub use forge_fabric::{Coded, Role, RoleState, SegmentState, SlotState, WaitStrategy};
pub use host::{HostChange, HostObservation, RingObservation, RingStatus, UnreadableReason};
pub use image::RingView;

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

/// What forge-top knows of a role's holder, beyond what its line says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Holder {
    /// Producer or consumer.
    pub role: Role,
    /// Does a live process hold the role? The kernel's answer (its role
    /// lock), in any pid namespace; `None` if it would not say.
    pub alive: Option<bool>,
    /// Is the line's pid proven to be that process here (same pid
    /// namespace, same start time)? Only then are `proc` and signals about
    /// the holder.
    pub verified: bool,
    /// Why the holder could not be proven, when it could not.
    pub holder_note: Option<String>,
    /// What the kernel says about the holder, when it is proven.
    pub proc: Option<ProcInfo>,
    /// Age of the last heartbeat, ns, if it ever beat.
    pub heartbeat_age_ns: Option<u64>,
    /// Time since the role was taken, ns.
    pub uptime_ns: Option<u64>,
    /// Running, stalled, dead…, from the lock, the role state and the
    /// heartbeat (against the stale threshold).
    pub liveness: Liveness,
}

impl Holder {
    /// Nothing known yet about `role`'s holder.
    pub fn unknown(role: Role) -> Self {
        Holder {
            role,
            alive: None,
            verified: false,
            holder_note: None,
            proc: None,
            heartbeat_age_ns: None,
            uptime_ns: None,
            liveness: Liveness::Unknown,
        }
    }
}

/// One segment found in `/dev/shm`, for `--list` and the picker.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct SegmentSummary {
    /// Its name, `/forge_shm`.
    pub name: String,
    /// Why it could not be read, when it could not (then the rest is empty).
    pub error: Option<String>,
    /// Lifecycle state (`retired` for a segment a newer session replaced
    /// and nobody removed).
    pub state: Option<Coded<SegmentState>>,
    /// Session, as hex in JSON (a number would not survive `jq`).
    #[serde(serialize_with = "forge_fabric::vocab::serialize_session")]
    pub session: u64,
    /// A retired segment's successor session, hex in JSON.
    #[serde(
        serialize_with = "forge_fabric::vocab::serialize_session_opt",
        skip_serializing_if = "Option::is_none"
    )]
    pub successor: Option<u64>,
    /// Set when this user may not read it: who owns it and its mode (it
    /// may be a Forge segment, its size fits one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreadable: Option<Unreadable>,
    /// Slots.
    pub slot_count: u32,
    /// Bytes.
    pub size: u64,
    /// `head`.
    pub head: u64,
    /// `tail`.
    pub tail: u64,
    /// Producer and consumer: pid, program, whether the role is held.
    pub roles: Vec<RoleSummary>,
    /// Frames per second over the listing's sampling interval.
    pub frames_per_s: Option<f64>,
}

/// An object in `/dev/shm` this user may not open: what can be said of it
/// without reading it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unreadable {
    /// Its owner's uid.
    pub uid: u32,
    /// Its owner's name, when the uid has one.
    pub owner: Option<String>,
    /// Its permission bits, octal (`"0600"`).
    pub mode: String,
}

impl Eq for SegmentSummary {}

/// A role in a [`SegmentSummary`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RoleSummary {
    /// Producer or consumer.
    pub role: Role,
    /// Its holder's pid (in its pid namespace), 0 when none.
    pub pid: u32,
    /// Its program name.
    pub program: String,
    /// Held by a live process (the kernel's lock)?
    pub held: Option<bool>,
    /// Role state word.
    pub state: Coded<RoleState>,
}

/// One role as the panels show it: its line and its holder.
#[derive(Debug, Clone, Copy)]
pub struct Side<'a> {
    /// Producer or consumer.
    pub role: Role,
    /// What the role's line says.
    pub line: &'a SideSnapshot,
    /// What forge-top knows of the holder.
    pub holder: &'a Holder,
}

impl Side<'_> {
    /// The holder's state in a word, as every view says it: a running
    /// holder asleep on its futex is `parked`; the states that need a
    /// look are in capitals.
    pub fn state_word(&self) -> &'static str {
        match self.holder.liveness {
            Liveness::Running if self.line.sleeping => "parked",
            Liveness::Dead => "DEAD",
            Liveness::Stalled => "STALLED",
            other => other.name(),
        }
    }

    /// How the holder waits and how many frames each index store covers
    /// (`park ×32`); `None` while nobody ever took the role, whose line's
    /// zeros describe no one.
    pub fn wait(&self) -> Option<String> {
        (self.holder.liveness != Liveness::Vacant)
            .then(|| format!("{} ×{}", self.line.wait_strategy, self.line.batch))
    }
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
    /// Where the histogram's buckets end, ns: a quantile past it is not
    /// known, only bounded, and is given as exactly this value.
    #[serde(default)]
    pub range_ns: u64,
    /// Bars for the chart.
    pub bins: Vec<LatencyBin>,
}

impl LatencyStats {
    /// Quantile `ns` as a person reads it: `>16.8ms` when it falls past
    /// the histogram's range, never the maximum in its place.
    pub fn show(&self, ns: Option<u64>) -> String {
        match ns {
            Some(v) if self.overflow > 0 && self.range_ns > 0 && v == self.range_ns => {
                format!(">{}", human::duration_ns(v))
            }
            other => human::maybe_duration_ns(other),
        }
    }
}

/// The header at one moment, as fabric copied it, plus what forge-top
/// derived from it at once.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Sample {
    /// Every header field.
    pub header: Snapshot,
    /// `/dev/shm/…`.
    pub path: String,
    /// Session age, ns.
    pub age_ns: u64,
    /// The producer's holder.
    pub producer: Holder,
    /// The consumer's holder.
    pub consumer: Holder,
    /// Latency since the consumer began.
    pub latency: LatencyStats,
    /// Latency over the last second or so.
    pub latency_recent: LatencyStats,
    /// What is wrong with the ring (not its identity), as sentences.
    pub violations: Vec<String>,
    /// The newest frame's position: `head` may lag the published frames
    /// by the producer's publish batch, so this is found from the stamps.
    pub newest: Option<u64>,
    /// Rebuilt from a recording at its cursor: `head`, `newest` and the
    /// slots are facts; `tail` is a lower bound (the last sample's, or a lap
    /// behind head), and byte counters and heartbeats were not recorded.
    #[serde(default)]
    pub recorded: bool,
}

impl Sample {
    /// `role` as the panels show it.
    pub fn side(&self, role: Role) -> Side<'_> {
        Side {
            role,
            line: self.header.side(role),
            holder: self.holder(role),
        }
    }

    /// What forge-top knows of `role`'s holder.
    pub fn holder(&self, role: Role) -> &Holder {
        match role {
            Role::Producer => &self.producer,
            Role::Consumer => &self.consumer,
        }
    }

    /// The same, to fill in.
    pub fn holder_mut(&mut self, role: Role) -> &mut Holder {
        match role {
            Role::Producer => &mut self.producer,
            Role::Consumer => &mut self.consumer,
        }
    }

    /// `head`.
    pub fn head(&self) -> u64 {
        self.header.head
    }

    /// `tail`.
    pub fn tail(&self) -> u64 {
        self.header.tail
    }

    /// Slots in the ring.
    pub fn slot_count(&self) -> u32 {
        self.header.slot_count
    }

    /// The session in the header.
    pub fn session_id(&self) -> u64 {
        self.header.identity.session_id
    }

    /// The lifecycle state in the header.
    pub fn state(&self) -> Coded<SegmentState> {
        self.header.identity.state
    }

    /// `in_flight / slot_count`, clamped to 0..=1.
    pub fn fill_ratio(&self) -> f64 {
        self.header.fill_ratio().min(1.0)
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

impl FrameInfo {
    /// Does `query` (lower case) name this frame's kind, or stand in its
    /// body's preview (case-insensitive)?
    pub fn matches(&self, query: &str) -> bool {
        self.kind.to_lowercase() == query || self.body_preview.to_lowercase().contains(query)
    }
}

/// Words that `/` takes as a slot state rather than a text to find.
const STATE_QUERIES: [&str; 6] = ["pend", "pending", "done", "consumed", "free", "torn"];

/// Is `query` a slot state (`pend`, `done`, `free`, `torn`, …) rather than
/// a text? A state belongs to a slot at one moment, not to a frame.
pub fn is_state_query(query: &str) -> bool {
    STATE_QUERIES.contains(&query.to_lowercase().as_str())
}

/// A slot as forge-top shows it: fabric's copy (the facts), forge-top's
/// verdict on whether it can be trusted, and the frame decoded from it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SlotView {
    /// The slot as fabric copied it. Its `bytes` are the whole payload for
    /// the selected slot, the frame header only (or nothing) for list
    /// rows; its `torn` and `overwritable` are fabric's, before the
    /// verdict below.
    pub copy: SlotCopy,
    /// The copy cannot be trusted: the slot word changed during it, or the
    /// producer may have been rewriting it (`copy.changed || overwritable`).
    pub torn: bool,
    /// The consumer had released it and the producer's head was close
    /// enough that it may have been writing the next lap into it (or did,
    /// and moved on): a tear there is expected, not damage. `false` when
    /// the producer is known dead.
    pub overwritable: bool,
    /// The frame, if it decodes (header fields even when the body fails).
    pub frame: Option<FrameInfo>,
    /// Why the header does not decode, if it does not.
    pub frame_error: Option<String>,
    /// Offline, from a recording: `Some(true)` a recorded frame,
    /// `Some(false)` no frame the recording can vouch for (missed by a tap,
    /// or before the recording began); `None` live or from an image.
    pub recording: Option<bool>,
}

/// `c` without its payload, which is not copied only to be dropped: a
/// list row needs the slot word's fields, and every slot of a whole-ring
/// copy would otherwise clone up to a slot of bytes per tick.
pub(crate) fn bare(c: &SlotCopy) -> SlotCopy {
    SlotCopy {
        index: c.index,
        position: c.position,
        state: c.state,
        len: c.len,
        flags: c.flags,
        stamp: c.stamp,
        bytes: Vec::new(),
        changed: c.changed,
        overwritable: c.overwritable,
        torn: c.torn,
    }
}

impl SlotView {
    /// A view of `copy` with fabric's own verdict and nothing decoded yet.
    pub fn of(copy: SlotCopy) -> Self {
        SlotView {
            torn: copy.torn,
            overwritable: copy.overwritable,
            copy,
            frame: None,
            frame_error: None,
            recording: None,
        }
    }

    /// The same view without its bytes (a row of a list).
    pub fn row(&self) -> Self {
        SlotView {
            copy: bare(&self.copy),
            frame: self.frame.clone(),
            frame_error: self.frame_error.clone(),
            ..*self
        }
    }
}

/// JSON as before the copy was shared with fabric: one flat object, the
/// verdict's `torn` and `overwritable`, never the bytes.
impl Serialize for SlotView {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let c = &self.copy;
        let mut o = s.serialize_struct("SlotView", 12)?;
        o.serialize_field("index", &c.index)?;
        o.serialize_field("position", &c.position)?;
        o.serialize_field("state", &c.state)?;
        o.serialize_field("len", &c.len)?;
        o.serialize_field("flags", &c.flags)?;
        o.serialize_field("stamp", &c.stamp)?;
        o.serialize_field("torn", &self.torn)?;
        o.serialize_field("changed", &c.changed)?;
        o.serialize_field("overwritable", &self.overwritable)?;
        o.serialize_field("frame", &self.frame)?;
        o.serialize_field("frame_error", &self.frame_error)?;
        o.serialize_field("recording", &self.recording)?;
        o.end()
    }
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
    /// CLOCK_MONOTONIC ns when this was read (0: unknown).
    pub read_mono_ns: u64,
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
    /// Every slot, copied whole, when the request asked for it (a freeze, a
    /// search).
    pub ring: Option<RingView>,
    /// forge-top itself.
    pub me: SelfInfo,
    /// Set when the data comes from a file, not a live segment.
    pub offline: Option<OfflineView>,
}

/// What a file opened with `--file` is, and where its cursor stands.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OfflineView {
    /// The file.
    pub path: String,
    /// A recording (frames over time) or an image (one moment).
    pub kind: OfflineKind,
    /// Recording: the frame the cursor is on (0-based), and how many.
    pub frame: u64,
    /// Frames in the recording (slots in an image).
    pub frames: u64,
    /// Recording: playing forward at `speed`.
    pub playing: bool,
    /// Play speed, times the recorded pace.
    pub speed: f64,
    /// Recording: the time range of its frames, ns since the Unix epoch.
    pub range_unix_ns: (u64, u64),
    /// Recording: the cursor frame's session (index into the file's) and
    /// how many sessions the file holds.
    pub session: (usize, usize),
    /// Recording: frames the recorder missed, in all.
    pub missed: u64,
}

/// The kind of file opened offline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OfflineKind {
    /// A `.mcap` recording.
    Recording,
    /// A `.forge` ring image.
    Image,
}

/// A move of an offline recording's cursor.
#[derive(Debug, Clone, PartialEq)]
pub enum Seek {
    /// To the next (`forward`) or previous frame whose kind or body matches
    /// `query`, the cursor's own frame included unless `skip`.
    Find {
        /// What `/` was given.
        query: String,
        /// Later frames, or earlier ones.
        forward: bool,
        /// Start from the frame next to the cursor (`n`, `N`).
        skip: bool,
    },
    /// By this many frames.
    Frames(i64),
    /// By this many seconds of recorded time.
    Seconds(f64),
    /// To the first frame carrying this sequence number.
    Sequence(u64),
    /// To the first frame at or after this time, ns since the Unix epoch.
    Time(u64),
    /// To the first or the last frame.
    Start,
    /// To the last frame.
    End,
    /// Play or pause.
    TogglePlay,
    /// Play speed times this.
    Speed(f64),
}

/// Rates from index and counter deltas.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Rates {
    /// Frames published per second (head delta).
    pub frames_per_s: f64,
    /// Frames released per second (tail delta).
    pub consumed_per_s: f64,
    /// Payload bytes committed per second (producer counter delta).
    pub bytes_per_s: f64,
    /// Highest `frames_per_s` seen in this session.
    pub peak_frames_per_s: f64,
    /// Highest `bytes_per_s` seen in this session.
    pub peak_bytes_per_s: f64,
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
    /// Copy every slot whole too (a freeze or a search).
    pub whole_ring: bool,
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
