//! The data source: the only module that talks to forge-fabric.
//!
//! Each tick it copies the header (one `snapshot`, atomic loads only) and the
//! slots on screen (validated copies: the frame header of each list row with
//! `read_slot_prefix`, the selected slot whole with `read_slot`) out of a
//! read-only mapping, and converts them into [`crate::model`] types. It never
//! reads the whole ring, never takes a role and cannot write: fabric maps
//! `PROT_READ`.
//!
//! ```text
//!            open ok                      retired / replaced / unlinked
//!  Waiting ──────────▶ Attached ─────────────────────────────▶ (notes, keep sampling;
//!     ▲                   │  truncated / garbage                 re-open by name)
//!     │                   ▼
//!     └────────────── Lost (last good view kept; re-open by name every tick)
//! ```

use std::collections::VecDeque;
use std::time::Duration;

use forge_fabric::clock::{monotonic_ns, unix_ns};
use forge_fabric::frame::{decode, decode_header, FRAME_HEADER_LEN};
use forge_fabric::layout::{
    bucket_low, segment_size, HEADER_SIZE, LAYOUT_VERSION, MAGIC, PAYLOAD_CAPACITY, ROLE_ACTIVE,
    ROLE_STOPPED, ROLE_VACANT, SLOT_SIZE,
};
use forge_fabric::observe::{HolderCheck, LatencySnapshot, SegmentState, SideSnapshot};
use forge_fabric::{
    NameStatus, ObserveError, Observer, SegmentError, Side, SlotCopy, Snapshot, WaitStrategy,
};

use crate::model::*;
use crate::procfs;

/// How far back the "recent" latency window reaches.
const RECENT_WINDOW_NS: u64 = 1_000_000_000;

/// Attaches to a segment by name and samples it.
pub struct LiveSource {
    name: String,
    state: State,
    /// The last session we mapped, for re-attach notes.
    last_session: Option<u64>,
    /// Latency histograms of the last second, oldest first.
    latency_history: VecDeque<(u64, LatencySnapshot)>,
    last_open_error: Option<String>,
}

enum State {
    Waiting,
    Attached(Attachment),
    Lost,
}

struct Attachment {
    observer: Observer,
    corrupt: bool,
    retired_noted: bool,
    replaced_noted: bool,
    unlinked_noted: bool,
    owner_noted: bool,
}

impl Attachment {
    fn new(observer: Observer) -> Self {
        Attachment {
            observer,
            corrupt: false,
            retired_noted: false,
            replaced_noted: false,
            unlinked_noted: false,
            owner_noted: false,
        }
    }
}

/// The segment forge-top watches by default.
pub const DEFAULT_SEGMENT: &str = forge_fabric::DEFAULT_SEGMENT;

/// Checks a segment name the way fabric will.
pub fn validate_name(name: &str) -> Result<(), String> {
    forge_fabric::segment::validate_name(name).map_err(|e| e.to_string())
}

/// Sends SIGUSR1 (a load burst) to the producer of `name`, only if it is
/// still the process `pid` and fabric can prove it holds the role (see
/// [`Observer::signal_holder`]). Returns the status line to show.
pub fn burst_producer(name: &str, pid: u32) -> Result<String, String> {
    let observer = Observer::open(name, Duration::ZERO).map_err(|e| format!("no burst: {e}"))?;
    match observer.verify_holder(Side::Producer) {
        HolderCheck::Verified { pid: now } if now == pid => {}
        HolderCheck::Verified { pid: now } => {
            return Err(format!(
                "no burst: the producer is now pid {now}, not {pid}; press b again"
            ))
        }
        other => return Err(format!("no burst: {other}")),
    }
    observer
        .signal_holder(Side::Producer, libc_sigusr1())
        .map(|pid| {
            format!("load burst: sent SIGUSR1 to producer pid {pid} (the segment is not written)")
        })
        .map_err(|e| format!("no burst: {e}"))
}

fn libc_sigusr1() -> i32 {
    nix::sys::signal::Signal::SIGUSR1 as i32
}

/// Removes a segment name (for `--demo` cleanup).
pub fn unlink(name: &str) -> Result<(), String> {
    forge_fabric::segment::unlink(name).map_err(|e| e.to_string())
}

/// Does the name exist in /dev/shm?
pub fn exists(name: &str) -> bool {
    std::path::Path::new(&format!("/dev/shm{name}")).exists()
}

impl LiveSource {
    /// A source for `name`; nothing is opened until the first sample.
    pub fn new(name: &str) -> Self {
        LiveSource {
            name: name.to_owned(),
            state: State::Waiting,
            last_session: None,
            latency_history: VecDeque::new(),
            last_open_error: None,
        }
    }

    /// Tries to open the name once; `Err` says why not (for `--no-wait`).
    pub fn try_attach(&mut self) -> Result<(), String> {
        match Observer::open(&self.name, Duration::from_millis(200)) {
            Ok(obs) => {
                self.last_session = Some(obs.session_id());
                self.state = State::Attached(Attachment::new(obs));
                Ok(())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// One tick: copy the header and the requested slots.
    pub fn sample(&mut self, req: &SlotRequest) -> Observation {
        let mut obs = Observation {
            mono_ns: monotonic_ns(),
            unix_ns: unix_ns(),
            me: procfs::self_info(),
            ..Observation::default()
        };
        if !matches!(self.state, State::Attached(_)) {
            self.open_by_name(&mut obs);
        }
        let State::Attached(att) = &mut self.state else {
            obs.link = match self.state {
                State::Lost => Link::Lost,
                _ => Link::Waiting,
            };
            return obs;
        };
        obs.link = Link::Attached;
        let ours = att.observer.session_id();
        if !att.owner_noted {
            att.owner_noted = true;
            if let Some(warning) = att.observer.owner_warning() {
                obs.notes.push(SourceNote::Ownership {
                    warning: warning.to_owned(),
                });
            }
        }

        let snap = match att.observer.snapshot() {
            Ok(s) => s,
            Err(e) => {
                obs.reason = Some(e.to_string());
                match e {
                    ObserveError::Truncated { now, mapped } => {
                        obs.notes.push(SourceNote::Truncated { now, mapped })
                    }
                    ObserveError::Stat(error) => obs.notes.push(SourceNote::OpenFailed { error }),
                }
                obs.link = Link::Lost;
                self.state = State::Lost;
                self.latency_history.clear();
                return obs;
            }
        };

        if let Some(what) = header_problem(&snap, att.observer.mapped_len()) {
            if !att.corrupt {
                obs.notes.push(SourceNote::Corrupt { what: what.clone() });
                att.corrupt = true;
            }
            obs.reason = Some(format!("header no longer reads as a Forge segment: {what}"));
            obs.link = Link::Lost;
            // The name may already lead to a sound segment.
            if att.observer.name_status() != NameStatus::Same {
                self.reopen(&mut obs, ours);
            }
            return obs;
        }
        if att.corrupt {
            att.corrupt = false;
            obs.notes.push(SourceNote::Recovered);
        }

        let mut want_reopen = false;
        if snap.state == SegmentState::Retired {
            if !att.retired_noted {
                att.retired_noted = true;
                obs.notes.push(SourceNote::Retired {
                    old: ours,
                    new: snap.successor_session,
                });
            }
            want_reopen = true;
        }
        match att.observer.name_status() {
            NameStatus::Same => {}
            NameStatus::Replaced => {
                if !att.replaced_noted {
                    att.replaced_noted = true;
                    obs.notes.push(SourceNote::Replaced { old: ours });
                }
                want_reopen = true;
            }
            NameStatus::Unlinked => {
                if !att.unlinked_noted {
                    att.unlinked_noted = true;
                    obs.notes.push(SourceNote::Unlinked { session: ours });
                }
            }
        }
        if want_reopen && self.reopen(&mut obs, ours) {
            // Sample the new session at once.
            let notes = std::mem::take(&mut obs.notes);
            let mut fresh = self.sample(req);
            let mut all = notes;
            all.append(&mut fresh.notes);
            fresh.notes = all;
            return fresh;
        }
        let holders = match &self.state {
            State::Attached(att) => [
                att.observer.verify_holder(Side::Producer),
                att.observer.verify_holder(Side::Consumer),
            ],
            _ => [HolderCheck::Unknown, HolderCheck::Unknown],
        };
        let sample = self.convert(&snap, &holders);
        let State::Attached(att) = &self.state else {
            return obs;
        };
        let observer = &att.observer;
        let slot_count = snap.slot_count;
        let (selected, first) = if req.follow {
            let newest = newest_slot(snap.head, slot_count);
            let sel = newest.or(req.selected);
            let first = match sel {
                Some(s) => scroll_to(req.first, req.count, s, slot_count),
                None => req.first,
            };
            (sel, first)
        } else {
            (req.selected, req.first)
        };
        let end = first.saturating_add(req.count).min(slot_count);
        // List rows show the frame header only; copy no more of the payload.
        for i in first..end {
            if let Ok(copy) = observer.read_slot_prefix(i, FRAME_HEADER_LEN) {
                obs.slots.push(slot_view(copy, false));
            }
        }
        if let Some(sel) = selected.filter(|&s| s < slot_count) {
            if let Ok(copy) = observer.read_slot(sel) {
                obs.detail = Some(slot_view(copy, true));
            }
        }
        obs.sample = Some(sample);
        obs
    }

    /// Tries to open a new session at the name; true if we switched.
    fn reopen(&mut self, obs: &mut Observation, old: u64) -> bool {
        match Observer::open(&self.name, Duration::ZERO) {
            Ok(new) if new.session_id() != old => {
                obs.notes.push(SourceNote::Reattached {
                    old,
                    new: new.session_id(),
                });
                self.last_session = Some(new.session_id());
                self.latency_history.clear();
                self.state = State::Attached(Attachment::new(new));
                true
            }
            _ => false,
        }
    }

    fn open_by_name(&mut self, obs: &mut Observation) {
        match Observer::open(&self.name, Duration::ZERO) {
            Ok(new) => {
                let session = new.session_id();
                obs.notes.push(match self.last_session {
                    Some(old) if old != session => SourceNote::Reattached { old, new: session },
                    _ => SourceNote::Attached { session },
                });
                self.last_session = Some(session);
                self.last_open_error = None;
                self.latency_history.clear();
                self.state = State::Attached(Attachment::new(new));
            }
            Err(e) => {
                let reason = waiting_reason(&e);
                if self.last_open_error.as_deref() != Some(reason.as_str())
                    && !matches!(
                        e,
                        SegmentError::Missing { .. } | SegmentError::Initializing { .. }
                    )
                {
                    obs.notes.push(SourceNote::OpenFailed {
                        error: reason.clone(),
                    });
                }
                self.last_open_error = Some(reason.clone());
                obs.reason = Some(reason);
            }
        }
    }

    fn convert(&mut self, s: &Snapshot, holders: &[HolderCheck; 2]) -> Sample {
        let now = s.taken_mono_ns;
        self.latency_history.push_back((now, s.latency.clone()));
        while self
            .latency_history
            .get(1)
            .is_some_and(|(t, _)| now.saturating_sub(*t) >= RECENT_WINDOW_NS)
        {
            self.latency_history.pop_front();
        }
        let recent = match self.latency_history.front() {
            Some((_, earlier)) => s.latency.since(earlier),
            None => LatencySnapshot::default(),
        };
        Sample {
            name: s.name.clone(),
            path: format!("/dev/shm{}", s.name),
            file_size: s.file_size,
            layout_version: s.layout_version,
            slot_count: s.slot_count,
            slot_size: s.slot_size,
            payload_capacity: s.payload_capacity,
            session_id: s.session_id,
            state: match s.state {
                SegmentState::Initializing => SegState::Initializing,
                SegmentState::Live => SegState::Live,
                SegmentState::Retired => SegState::Retired,
                SegmentState::Unknown(c) => SegState::Unknown(c),
            },
            successor_session: s.successor_session,
            init_pid: s.init_pid,
            created_unix_ns: s.created_unix_ns,
            age_ns: now.saturating_sub(s.created_mono_ns),
            producer: side(Role::Producer, &s.producer, &holders[0], now),
            consumer: side(Role::Consumer, &s.consumer, &holders[1], now),
            head: s.head,
            tail: s.tail,
            latency: latency(&s.latency),
            latency_recent: latency(&recent),
            violations: s.invariant_violations(),
        }
    }
}

/// A header that no longer matches what we mapped: overwritten, garbage.
fn header_problem(s: &Snapshot, mapped: usize) -> Option<String> {
    if s.magic != MAGIC {
        return Some(format!(
            "magic is {:#018x}, expected {MAGIC:#018x}",
            s.magic
        ));
    }
    if s.layout_version != LAYOUT_VERSION {
        return Some(format!(
            "layout version is {}, expected {LAYOUT_VERSION}",
            s.layout_version
        ));
    }
    if s.header_size as usize != HEADER_SIZE || s.slot_size as usize != SLOT_SIZE {
        return Some(format!(
            "header/slot size {}/{}, expected {HEADER_SIZE}/{SLOT_SIZE}",
            s.header_size, s.slot_size
        ));
    }
    let expected = segment_size(s.slot_count) as u64;
    if s.segment_size != expected || (mapped as u64) < expected {
        return Some(format!(
            "segment_size is {}, expected {expected} for the {} slots mapped",
            s.segment_size, s.slot_count
        ));
    }
    if s.payload_capacity as usize != PAYLOAD_CAPACITY {
        return Some(format!(
            "payload capacity is {}, expected {PAYLOAD_CAPACITY}",
            s.payload_capacity
        ));
    }
    None
}

fn waiting_reason(e: &SegmentError) -> String {
    match e {
        SegmentError::Missing { name } => {
            format!("{name} does not exist yet (no /dev/shm{name}); start forge-init, or run forge-top --demo")
        }
        SegmentError::Retired {
            session, successor, ..
        } => format!(
            "session {session:#018x} is retired (successor {successor:#018x}); waiting for the new segment"
        ),
        other => other.to_string(),
    }
}

fn side(role: Role, s: &SideSnapshot, holder: &HolderCheck, now: u64) -> SideInfo {
    let verified = matches!(holder, HolderCheck::Verified { .. });
    SideInfo {
        role,
        index: s.index,
        pid: s.pid,
        alive: s.lock_held,
        verified,
        holder_note: match holder {
            HolderCheck::Verified { .. } | HolderCheck::NotHeld => None,
            other => Some(other.to_string()),
        },
        program: s.program.clone(),
        role_state: match s.role_state {
            ROLE_VACANT => RoleState::Vacant,
            ROLE_ACTIVE => RoleState::Active,
            ROLE_STOPPED => RoleState::Stopped,
            other => RoleState::Unknown(other),
        },
        core: s.core,
        // /proc/PID is about the holder only when the pid is proven to be it.
        proc: if verified {
            procfs::proc_info(s.pid)
        } else {
            None
        },
        session: s.session,
        heartbeat_age_ns: s.heartbeat_age(now).map(|d| d.as_nanos() as u64),
        messages: s.messages,
        bytes: s.bytes,
        backpressure: s.backpressure,
        batch: s.batch,
        wait: WaitStrategy::from_code(s.wait_strategy)
            .map_or_else(|| format!("code {}", s.wait_strategy), |w| w.name().into()),
        sleeping: s.sleeping,
        uptime_ns: (s.started_mono_ns != 0).then(|| now.saturating_sub(s.started_mono_ns)),
    }
}

/// The chart's bin edges, ns.
const BIN_EDGES: [u64; 9] = [
    100, 200, 500, 1_000, 2_000, 5_000, 10_000, 100_000, 1_000_000,
];

fn latency(l: &LatencySnapshot) -> LatencyStats {
    let mut bins: Vec<LatencyBin> = std::iter::once(0)
        .chain(BIN_EDGES)
        .zip(BIN_EDGES.into_iter().chain(std::iter::once(u64::MAX)))
        .map(|(lo_ns, hi_ns)| LatencyBin {
            lo_ns,
            hi_ns,
            count: 0,
        })
        .collect();
    for (i, &n) in l.buckets.iter().enumerate() {
        if n == 0 {
            continue;
        }
        let low = bucket_low(i);
        let bin = BIN_EDGES.iter().take_while(|&&e| low >= e).count();
        // Counts written by another process: saturate, never overflow.
        bins[bin].count = bins[bin].count.saturating_add(n);
    }
    if let Some(last) = bins.last_mut() {
        last.count = last.count.saturating_add(l.overflow);
    }
    LatencyStats {
        count: l.count,
        mean_ns: l.mean(),
        p50_ns: l.quantile(0.50),
        p90_ns: l.quantile(0.90),
        p99_ns: l.quantile(0.99),
        p999_ns: l.quantile(0.999),
        max_ns: l.max_ns,
        overflow: l.overflow,
        bins,
    }
}

fn slot_view(c: SlotCopy, whole: bool) -> SlotView {
    let state = match c.state {
        forge_fabric::SlotState::Pending => SlotState::Pending,
        forge_fabric::SlotState::Consumed => SlotState::Consumed,
        forge_fabric::SlotState::Free => SlotState::Free,
    };
    let mut view = SlotView {
        index: c.index,
        position: c.position,
        state,
        len: c.len,
        flags: c.flags,
        stamp: c.stamp,
        torn: c.torn,
        bytes: Vec::new(),
        frame: None,
        frame_error: None,
    };
    if c.torn || state == SlotState::Free {
        // A torn copy's bytes are not to be trusted; a free slot holds none.
        return view;
    }
    let bytes = c.bytes;
    match decode_header(&bytes) {
        Ok(h) => {
            let (valid, error) = if whole {
                match decode(&bytes) {
                    Ok(_) => (true, None),
                    Err(e) => (false, Some(e.to_string())),
                }
            } else {
                (false, None)
            };
            let body = bytes.get(FRAME_HEADER_LEN..).unwrap_or(&[]);
            view.frame = Some(FrameInfo {
                sequence: h.sequence,
                timestamp_ns: h.timestamp_ns,
                source_id: h.source_id,
                kind: h.kind.name(),
                body_len: h.body_len,
                checksum: h.checksum,
                valid,
                error,
                body_preview: body
                    .iter()
                    .take(64)
                    .map(|&b| {
                        if b.is_ascii_graphic() || b == b' ' {
                            b as char
                        } else {
                            '.'
                        }
                    })
                    .collect(),
            });
        }
        Err(e) => view.frame_error = Some(e.to_string()),
    }
    if whole {
        view.bytes = bytes;
    }
    view
}
