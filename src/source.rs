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
use std::time::{Duration, Instant};

use forge_fabric::clock::{monotonic_ns, unix_ns};
use forge_fabric::hist::Histogram;
use forge_fabric::observe::{HolderCheck, Problem};
use forge_fabric::{
    shm_path, NameStatus, ObserveError, Observer, Role, SegmentError, SegmentState, Snapshot,
    PAYLOAD_CAPACITY,
};
use forge_frame::FRAME_HEADER_LEN;

use crate::model::*;
use crate::procfs;

pub(crate) mod convert;
pub mod host;
mod list;
pub use host::HostSource;
pub use list::list_segments;

pub(crate) use convert::{frame_info, holder, sample_of, slot_view};
use convert::{producer_gone, slot_row};

/// How far back the "recent" latency window reaches.
const RECENT_WINDOW_NS: u64 = 1_000_000_000;
/// Most slots a whole-ring copy takes (16384 × 4 KiB = 64 MiB).
pub const WHOLE_RING_SLOTS: u32 = 16_384;

/// Attaches to a segment by name and samples it.
pub struct LiveSource {
    name: String,
    state: State,
    /// The last session we mapped, for re-attach notes.
    last_session: Option<u64>,
    /// Latency histograms of the last second, oldest first.
    latency_history: VecDeque<(u64, Histogram)>,
    last_open_error: Option<String>,
    kernel: Kernel,
}

/// How long what `/proc` says is reused: forge-top's own figures, and each
/// holder's proof and `/proc` facts while its line names the same process
/// and its lock stays held. Display only: `b` proves the holder again.
const KERNEL_EVERY: Duration = Duration::from_millis(500);

/// `/proc` answers, read at most every [`KERNEL_EVERY`].
#[derive(Default)]
struct Kernel {
    me: Option<(Instant, SelfInfo)>,
    holders: [Option<KnownHolder>; 2],
}

/// A holder's proof and `/proc` facts, and what they were read for.
struct KnownHolder {
    at: Instant,
    /// pid, pid namespace, start time and lock as the line said.
    key: (u32, u64, u64, Option<bool>),
    check: HolderCheck,
    proc: Option<ProcInfo>,
}

impl Kernel {
    fn me(&mut self) -> SelfInfo {
        match &self.me {
            Some((at, me)) if at.elapsed() < KERNEL_EVERY => me.clone(),
            _ => {
                let me = procfs::self_info();
                self.me = Some((Instant::now(), me.clone()));
                me
            }
        }
    }

    /// The proof and `/proc` facts for `role`'s holder as `line` names it.
    fn holder(
        &mut self,
        role: Role,
        line: &SideSnapshot,
        prove: impl FnOnce() -> HolderCheck,
    ) -> (HolderCheck, Option<ProcInfo>) {
        let key = (line.pid, line.pidns, line.start_ticks, line.lock_held);
        let slot = &mut self.holders[role.index()];
        if let Some(k) = slot
            .as_ref()
            .filter(|k| k.key == key && k.at.elapsed() < KERNEL_EVERY)
        {
            return (k.check.clone(), k.proc.clone());
        }
        let check = prove();
        // /proc/PID is about the holder only when the pid is proven to be it.
        let proc = matches!(check, HolderCheck::Verified { .. })
            .then(|| procfs::proc_info(line.pid))
            .flatten();
        *slot = Some(KnownHolder {
            at: Instant::now(),
            key,
            check: check.clone(),
            proc: proc.clone(),
        });
        (check, proc)
    }
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

/// Body bytes copied for each list row (the wide list shows their start).
const LIST_BODY_BYTES: usize = 48;

/// The segment forge-top watches by default.
pub const DEFAULT_SEGMENT: &str = forge_fabric::DEFAULT_SEGMENT;

/// Checks a segment name the way fabric will.
pub fn validate_name(name: &str) -> Result<(), SegmentError> {
    forge_fabric::segment::validate_name(name)
}

/// Sends SIGUSR1 (a load burst) to the producer of `name`, only if it is
/// still the process `pid` and fabric can prove it holds the role (see
/// [`Observer::signal_holder`]). Returns the status line to show.
pub fn burst_producer(name: &str, pid: u32) -> Result<u32, BurstError> {
    let observer = Observer::open(name, Duration::ZERO)?;
    match observer.verify_holder(Role::Producer) {
        HolderCheck::Verified { pid: now } if now == pid => {}
        HolderCheck::Verified { pid: now } => return Err(BurstError::Moved { asked: pid, now }),
        other => return Err(BurstError::Unproven(other)),
    }
    Ok(observer.signal_holder(Role::Producer, nix::sys::signal::Signal::SIGUSR1 as i32)?)
}

/// Removes a segment name (for `--demo` cleanup).
pub fn unlink(name: &str) -> Result<(), SegmentError> {
    forge_fabric::segment::unlink(name)
}

/// Does the name exist in /dev/shm?
pub fn exists(name: &str) -> bool {
    std::path::Path::new(&shm_path(name)).exists()
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
            kernel: Kernel::default(),
        }
    }

    /// Tries to open the name once; `Err` says why not (for `--no-wait`).
    pub fn try_attach(&mut self) -> Result<(), SegmentError> {
        let obs = Observer::open(&self.name, Duration::from_millis(200))?;
        self.last_session = Some(obs.session_id());
        self.state = State::Attached(Attachment::new(obs));
        Ok(())
    }

    /// One tick: copy the header and the requested slots. The steps: attach
    /// if we are not, take a snapshot, check the header is still the one we
    /// mapped, follow a retirement or a replacement by name, then convert and
    /// copy the slots on screen.
    pub fn sample(&mut self, req: &SlotRequest) -> Observation {
        let mut obs = Observation {
            mono_ns: monotonic_ns(),
            unix_ns: unix_ns(),
            me: self.kernel.me(),
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
        note_ownership(att, &mut obs);
        let Some(snap) = self.take_snapshot(&mut obs) else {
            return obs;
        };
        if !self.identity_holds(&snap, &mut obs) {
            return obs;
        }
        if self.follow_the_name(&snap, &mut obs) {
            // Sample the new session at once, keeping what was noted.
            let notes = std::mem::take(&mut obs.notes);
            let mut fresh = self.sample(req);
            fresh.notes = notes.into_iter().chain(fresh.notes).collect();
            return fresh;
        }
        let sample = self.convert(snap);
        self.copy_slots(&sample, req, &mut obs);
        if req.whole_ring {
            obs.ring = self.copy_ring(&sample);
        }
        obs.sample = Some(sample);
        obs
    }

    /// Every slot, whole and validated: the frozen image and what a search
    /// looks through. At most [`WHOLE_RING_SLOTS`] slots (64 MiB).
    fn copy_ring(&self, sample: &Sample) -> Option<RingView> {
        let State::Attached(att) = &self.state else {
            return None;
        };
        let slot_count = sample.slot_count();
        let gone = producer_gone(sample);
        let started = monotonic_ns();
        let n = slot_count.min(WHOLE_RING_SLOTS);
        let whole = n == slot_count;
        // A whole ring is copied slot by slot into one growing buffer, each
        // slot's own copy freed before the next is made: the heap never
        // holds thousands of small copies (which a thaw could not give back
        // to the system), only the one buffer.
        let mut copies = Vec::with_capacity(n as usize);
        let mut slots = Vec::with_capacity(n as usize);
        let (mut payload, mut spans) = (Vec::new(), Vec::new());
        if whole {
            spans.reserve_exact(n as usize);
            for i in 0..n {
                let mut copy = att.observer.read_slot(i).ok()?;
                slots.push(slot_row(&copy, true, gone));
                spans.push((payload.len(), copy.bytes.len()));
                payload.extend_from_slice(&copy.bytes);
                copy.bytes = Vec::new();
                copies.push(copy);
            }
            payload.shrink_to_fit();
        } else {
            copies = att.observer.read_slots(0..n, PAYLOAD_CAPACITY).ok()?;
            slots = copies
                .iter()
                .map(|copy| slot_view(copy.clone(), true, gone))
                .collect();
        }
        let mono_ns = monotonic_ns();
        let took_ns = mono_ns.saturating_sub(started);
        let unix = unix_ns();
        // The same copy, raw, for a .forge image: the header of this
        // sample, the holders as proven, every slot as copied.
        let raw = whole.then(|| {
            let check = |role: Role| {
                self.kernel.holders[role.index()]
                    .as_ref()
                    .map_or(HolderCheck::Unknown, |k| k.check.clone())
            };
            std::sync::Arc::new(forge_record::image::RingImage {
                meta: forge_record::image::ImageMeta {
                    taken_unix_ns: unix,
                    taken_mono_ns: sample.header.taken_mono_ns,
                    host: forge_record::identity::host_name(),
                    writer: format!("forge-top {}", env!("CARGO_PKG_VERSION")),
                },
                snapshot: sample.header.clone(),
                holders: [check(Role::Producer), check(Role::Consumer)],
                slots: copies,
            })
        });
        Some(RingView {
            slots,
            unix_ns: unix,
            mono_ns,
            took_ns,
            skipped: slot_count - n,
            raw,
            payload,
            spans,
        })
    }

    /// The header, or `None` (and the source lost) when the file shrank.
    fn take_snapshot(&mut self, obs: &mut Observation) -> Option<Snapshot> {
        let State::Attached(att) = &self.state else {
            return None;
        };
        match att.observer.snapshot() {
            Ok(s) => Some(s),
            Err(e) => {
                obs.reason = Some(e.to_string());
                obs.notes.push(match e {
                    ObserveError::Truncated { now, mapped } => {
                        SourceNote::Truncated { now, mapped }
                    }
                    ObserveError::Stat(error) => SourceNote::OpenFailed { error },
                });
                obs.link = Link::Lost;
                self.state = State::Lost;
                self.latency_history.clear();
                None
            }
        }
    }

    /// Does the header still read as the segment we mapped? If not, it is
    /// noted once, and the name is tried again when it leads elsewhere.
    fn identity_holds(&mut self, snap: &Snapshot, obs: &mut Observation) -> bool {
        let State::Attached(att) = &mut self.state else {
            return false;
        };
        let ours = att.observer.session_id();
        let broken = snap.problems().into_iter().find(Problem::breaks_identity);
        let Some(problem) = broken else {
            if att.corrupt {
                att.corrupt = false;
                obs.notes.push(SourceNote::Recovered);
            }
            return true;
        };
        let what = problem.to_string();
        if !att.corrupt {
            obs.notes.push(SourceNote::Corrupt { what: what.clone() });
            att.corrupt = true;
        }
        obs.reason = Some(format!("header no longer reads as a Forge segment: {what}"));
        obs.link = Link::Lost;
        // The name may already lead to a sound segment.
        if att.observer.name_status() != NameStatus::Same {
            self.reopen(obs, ours);
        }
        false
    }

    /// Notes a retirement, a replacement or an unlink of the name, and
    /// re-opens by name when another segment has it; true if we switched.
    fn follow_the_name(&mut self, snap: &Snapshot, obs: &mut Observation) -> bool {
        let State::Attached(att) = &mut self.state else {
            return false;
        };
        let ours = att.observer.session_id();
        let mut want_reopen = false;
        if snap.identity.state == SegmentState::Retired {
            if !att.retired_noted {
                att.retired_noted = true;
                obs.notes.push(SourceNote::Retired {
                    old: ours,
                    new: snap.identity.successor_session,
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
        want_reopen && self.reopen(obs, ours)
    }

    /// The list rows on screen (frame headers only) and the selected slot
    /// (whole).
    fn copy_slots(&self, sample: &Sample, req: &SlotRequest, obs: &mut Observation) {
        let State::Attached(att) = &self.state else {
            return;
        };
        let observer = &att.observer;
        let slot_count = sample.slot_count();
        let gone = producer_gone(sample);
        let (selected, first) = if req.follow {
            let newest = sample
                .newest
                .map(|p| (p % u64::from(slot_count.max(1))) as u32);
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
        if let Ok(copies) = observer.read_slots(first..end, FRAME_HEADER_LEN + LIST_BODY_BYTES) {
            obs.slots
                .extend(copies.into_iter().map(|copy| slot_view(copy, false, gone)));
        }
        if let Some(sel) = selected.filter(|&s| s < slot_count) {
            if let Ok(copy) = observer.read_slot(sel) {
                obs.detail = Some(slot_view(copy, true, gone));
            }
        }
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

    fn convert(&mut self, s: Snapshot) -> Sample {
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
            None => Histogram::default(),
        };
        let mut hold = |role: Role, line: &SideSnapshot| match &self.state {
            State::Attached(att) => {
                let (check, proc) = self
                    .kernel
                    .holder(role, line, || att.observer.verify_holder(role));
                holder(line, role, &check, proc, now)
            }
            _ => Holder::unknown(role),
        };
        let holders = [
            hold(Role::Producer, &s.producer),
            hold(Role::Consumer, &s.consumer),
        ];
        sample_of(s, holders, &recent)
    }
}

/// Says once that the object is owned by another user, or others may write it.
fn note_ownership(att: &mut Attachment, obs: &mut Observation) {
    if att.owner_noted {
        return;
    }
    att.owner_noted = true;
    if let Some(warning) = att.observer.owner_warning() {
        obs.notes.push(SourceNote::Ownership {
            warning: warning.to_owned(),
        });
    }
}

fn waiting_reason(e: &SegmentError) -> String {
    match e {
        SegmentError::Missing { name } => {
            format!("{name} does not exist yet (no {}); start forge-init, or run forge-top --demo", shm_path(name))
        }
        SegmentError::Retired {
            session, successor, ..
        } => format!(
            "session {session:#018x} is retired (successor {successor:#018x}); waiting for the new segment"
        ),
        other => other.to_string(),
    }
}
