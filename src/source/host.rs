//! Every ring of the host, read through fabric's host scanner (one kept
//! read-only observer per name) and turned into the model's plain data: the
//! same [`Sample`] the ring view shows, one per readable ring, with each
//! held role's holder proven as the ring view proves it.
//!
//! ```text
//!  HostScanner::sample ─▶ RingEntry ─┬─ Sampled ─▶ sample_of (holders, /proc, latency of the last second)
//!                                    ├─ Initializing / Retired ─▶ as they are
//!                                    └─ Unreadable ─▶ reason, and owner and mode when refused
//! ```

use std::collections::{HashMap, HashSet, VecDeque};
use std::os::unix::fs::MetadataExt;

use forge_fabric::clock::unix_ns;
use forge_fabric::hist::Histogram;
use forge_fabric::observe::host::{HostEvent, HostScanner, RingEntry, RingState};
use forge_fabric::observe::HolderCheck;
use forge_fabric::Role;

use super::convert::{holder, sample_of};
use super::RECENT_WINDOW_NS;
use crate::model::*;
use crate::procfs;

/// Reads every Forge ring of the host.
pub struct HostSource {
    scanner: HostScanner,
    /// Per name: the session and its latency histograms of the last second.
    latency: HashMap<String, (u64, VecDeque<(u64, Histogram)>)>,
    /// Owners' names by uid, looked up once.
    users: HashMap<u32, Option<String>>,
}

impl Default for HostSource {
    fn default() -> Self {
        Self::new()
    }
}

impl HostSource {
    /// A source of every ring in `/dev/shm`; nothing is opened until the
    /// first sample.
    pub fn new() -> Self {
        Self::with_scanner(HostScanner::new())
    }

    /// Only rings whose names start with `prefix` (tests keep to their own).
    pub fn with_prefix(prefix: &str) -> Self {
        Self::with_scanner(HostScanner::new().with_prefix(prefix))
    }

    fn with_scanner(scanner: HostScanner) -> Self {
        HostSource {
            scanner: scanner.proving_holders(true),
            latency: HashMap::new(),
            users: HashMap::new(),
        }
    }

    /// One sample of every ring.
    pub fn sample(&mut self) -> HostObservation {
        let unix = unix_ns();
        let host = self.scanner.sample();
        let mut seen = HashSet::new();
        let rings: Vec<RingObservation> = host
            .rings
            .into_iter()
            .map(|entry| {
                seen.insert(entry.name.clone());
                self.ring(entry)
            })
            .collect();
        self.latency.retain(|name, _| seen.contains(name));
        let changes = host
            .events
            .into_iter()
            .map(|e| match e {
                HostEvent::Appeared { name } => HostChange::Appeared { name },
                HostEvent::Replaced { name, old, new } => HostChange::Replaced { name, old, new },
                HostEvent::Disappeared { name } => HostChange::Disappeared { name },
            })
            .collect();
        HostObservation {
            mono_ns: host.taken_mono_ns.max(1),
            unix_ns: unix,
            took_ns: u64::try_from(host.took.as_nanos()).unwrap_or(u64::MAX),
            rings,
            changes,
            not_forge: host.not_forge,
            me: procfs::self_info(),
        }
    }

    fn ring(&mut self, entry: RingEntry) -> RingObservation {
        let RingEntry {
            name,
            state,
            session_changes,
            holders: checks,
            ..
        } = entry;
        let status = match state {
            RingState::Sampled(snap) => {
                let snap = *snap;
                let recent = self.recent(&name, &snap);
                let now = snap.taken_mono_ns;
                let hold = |role: Role, line: &SideSnapshot, check: Option<HolderCheck>| {
                    // The scanner proves a role only while its lock is held.
                    let check = check.unwrap_or(match line.lock_held {
                        Some(false) => HolderCheck::NotHeld,
                        _ => HolderCheck::Unknown,
                    });
                    // /proc/PID is about the holder only when the pid is proven to be it.
                    let proc = matches!(check, HolderCheck::Verified { .. })
                        .then(|| procfs::proc_info(line.pid))
                        .flatten();
                    holder(line, role, &check, proc, now)
                };
                let [p, c] = checks;
                let holders = [
                    hold(Role::Producer, &snap.producer, p),
                    hold(Role::Consumer, &snap.consumer, c),
                ];
                RingStatus::Sampled(Box::new(sample_of(snap, holders, &recent)))
            }
            RingState::Initializing { init_pid } => RingStatus::Initializing { init_pid },
            RingState::Retired { session, successor } => RingStatus::Retired { session, successor },
            RingState::Unreadable { reason, detail } => RingStatus::Unreadable {
                owner: (reason == UnreadableReason::Permission)
                    .then(|| self.owner(&name))
                    .flatten(),
                reason,
                detail,
            },
        };
        RingObservation {
            name,
            status,
            session_changes,
        }
    }

    /// The latency of the last second or so: the histogram now less the
    /// oldest one kept within the window (the ring view's rule).
    fn recent(&mut self, name: &str, snap: &Snapshot) -> Histogram {
        let session = snap.identity.session_id;
        let now = snap.taken_mono_ns;
        let (kept_session, history) = self
            .latency
            .entry(name.to_owned())
            .or_insert_with(|| (session, VecDeque::new()));
        if *kept_session != session {
            *kept_session = session;
            history.clear();
        }
        history.push_back((now, snap.latency.clone()));
        while history
            .get(1)
            .is_some_and(|(t, _)| now.saturating_sub(*t) >= RECENT_WINDOW_NS)
        {
            history.pop_front();
        }
        match history.front() {
            Some((t, earlier)) if *t != now => snap.latency.since(earlier),
            _ => Histogram::default(),
        }
    }

    /// Who owns `name` and its mode: what can be said of an object this
    /// user may not open.
    fn owner(&mut self, name: &str) -> Option<Unreadable> {
        let meta = std::fs::metadata(shm_path(name)).ok()?;
        let uid = meta.uid();
        let owner = self
            .users
            .entry(uid)
            .or_insert_with(|| {
                nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(uid))
                    .ok()
                    .flatten()
                    .map(|u| u.name)
            })
            .clone();
        Some(Unreadable {
            uid,
            owner,
            mode: format!("{:04o}", meta.mode() & 0o7777),
        })
    }
}
