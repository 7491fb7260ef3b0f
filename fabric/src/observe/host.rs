//! Every Forge ring of the host, sampled into plain owned data: what a host
//! view (forge-top) and a metrics exporter (forge-exporter) both read.
//!
//! ```text
//!  /dev/shm ──list──▶ names ──▶ kept Observer (one per name, re-used while
//!                               the name leads to the same object)
//!                                   │ snapshot()
//!                                   ▼
//!  HostSample { rings: [RingEntry { name, state: Sampled(Snapshot) |
//!               Initializing | Retired | Unreadable, session_changes, … }],
//!               events: [appeared, replaced, disappeared], not_forge }
//! ```
//!
//! Facts only, no judgement: whether a heartbeat is stale or a full ring an
//! alarm is the reader's call (forge-top and forge-exporter each have
//! thresholds). What needs memory across samples is kept here, so that every
//! reader counts it the same way: which names are new or gone, how often a
//! name led to a new session, and since when a ring is full.
//!
//! An object that cannot be opened (another user's, mode 0000) is listed as
//! [`RingState::Unreadable`] when its size is one a Forge segment can have:
//! without reading it nobody can tell more. Objects that open and do not
//! carry the Forge magic are not rings; they are only counted.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{HolderCheck, LockTable, Observer, Snapshot};
use crate::clock::monotonic_ns;
use crate::error::SegmentError;
use crate::layout::{HEADER_SIZE, MIN_PAYLOAD_CAPACITY, MIN_SLOT_COUNT};
use crate::segment::validate_name;
use crate::segment::NameStatus;
use crate::vocab::Role;

/// Why a ring could not be sampled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum Unreadable {
    /// The kernel refused to open it for us (another user's, mode 0000).
    Permission,
    /// A Forge segment of a layout version this build does not read.
    Version,
    /// A Forge header whose geometry, state or size cannot be true.
    Malformed,
    /// It shrank under our mapping, or a read of it failed.
    Lost,
    /// Any other failure (file descriptors exhausted, mmap refused).
    Other,
}

impl Unreadable {
    /// Every reason, for readers that publish one series per reason.
    pub const ALL: [Unreadable; 5] = [
        Unreadable::Permission,
        Unreadable::Version,
        Unreadable::Malformed,
        Unreadable::Lost,
        Unreadable::Other,
    ];

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            Unreadable::Permission => "permission",
            Unreadable::Version => "version",
            Unreadable::Malformed => "malformed",
            Unreadable::Lost => "lost",
            Unreadable::Other => "other",
        }
    }
}

/// What one name in `/dev/shm` holds at this sample.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum RingState {
    /// Its header, copied out (live, or retired under a kept mapping).
    Sampled(Box<Snapshot>),
    /// forge-init is still writing it (or died doing so).
    Initializing {
        /// The initializing forge-init's pid, 0 if not yet written.
        init_pid: u32,
    },
    /// Retired and not yet unlinked: a re-initialization in progress.
    Retired {
        /// The retired session.
        #[cfg_attr(
            feature = "serde",
            serde(serialize_with = "crate::vocab::serialize_session")
        )]
        session: u64,
        /// The session that replaced it.
        #[cfg_attr(
            feature = "serde",
            serde(serialize_with = "crate::vocab::serialize_session")
        )]
        successor: u64,
    },
    /// Could not be read.
    Unreadable {
        /// Why, as a bounded set.
        reason: Unreadable,
        /// Why, in words.
        detail: String,
    },
}

/// One ring of the host.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct RingEntry {
    /// Its name, `/forge_shm`.
    pub name: String,
    /// What it holds now.
    pub state: RingState,
    /// How many times the name led to another session than the one before,
    /// since this scanner first saw the name.
    pub session_changes: u64,
    /// CLOCK_MONOTONIC ns since which every slot is in flight, while so.
    pub full_since_mono_ns: Option<u64>,
    /// Each role's holder proven or not (producer, consumer), when the
    /// scanner was asked to prove holders and the role lock is held.
    #[cfg_attr(feature = "serde", serde(skip))]
    pub holders: [Option<HolderCheck>; 2],
}

impl RingEntry {
    /// The snapshot, when the ring could be sampled.
    pub fn snapshot(&self) -> Option<&Snapshot> {
        match &self.state {
            RingState::Sampled(s) => Some(s),
            _ => None,
        }
    }
}

/// Something that happened to the host's rings between two samples.
#[derive(Debug, Clone, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
pub enum HostEvent {
    /// A name not seen before (every ring is new at the first sample).
    Appeared {
        /// The ring.
        name: String,
    },
    /// The name now leads to another session.
    Replaced {
        /// The ring.
        name: String,
        /// The session before.
        old: u64,
        /// The session now.
        new: u64,
    },
    /// The name is gone.
    Disappeared {
        /// The ring.
        name: String,
    },
}

/// Every ring of the host at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
pub struct HostSample {
    /// CLOCK_MONOTONIC ns when the sample started.
    pub taken_mono_ns: u64,
    /// How long listing and sampling every ring took.
    pub took: Duration,
    /// Rings, by name.
    pub rings: Vec<RingEntry>,
    /// Since the previous sample.
    pub events: Vec<HostEvent>,
    /// Objects that opened but are not Forge segments.
    pub not_forge: usize,
}

/// What the scanner keeps of a name between samples.
#[derive(Debug)]
struct Tracked {
    observer: Option<Observer>,
    session: u64,
    session_changes: u64,
    full_since_mono_ns: Option<u64>,
}

/// Samples every Forge ring of the host, keeping one read-only [`Observer`]
/// per name between samples (re-opened when the name leads to a new object).
///
/// # Examples
///
/// ```
/// use forge_fabric::observe::host::HostScanner;
/// use forge_fabric::{CreateOptions, Segment};
///
/// let prefix = format!("/forge_doc_host_{}_", std::process::id());
/// let opts = CreateOptions { slot_count: 8, payload_capacity: 64, ..CreateOptions::default() };
/// let a = Segment::create(&format!("{prefix}1"), &opts)?;
/// let mut scanner = HostScanner::new().with_prefix(&prefix);
/// let sample = scanner.sample();
/// assert_eq!(sample.rings.len(), 1);
/// assert_eq!(sample.rings[0].snapshot().unwrap().identity.session_id, a.session_id());
/// a.unlink()?;
/// assert!(scanner.sample().rings.is_empty());
/// # Ok::<(), forge_fabric::SegmentError>(())
/// ```
#[derive(Debug)]
pub struct HostScanner {
    dir: PathBuf,
    prefix: String,
    prove_holders: bool,
    tracked: BTreeMap<String, Tracked>,
}

impl Default for HostScanner {
    fn default() -> Self {
        Self::new()
    }
}

impl HostScanner {
    /// A scanner of `/dev/shm`; nothing is opened until the first sample.
    pub fn new() -> Self {
        HostScanner {
            dir: PathBuf::from("/dev/shm"),
            prefix: "/".into(),
            prove_holders: false,
            tracked: BTreeMap::new(),
        }
    }

    /// Only names starting with `prefix` (with its leading `/`).
    pub fn with_prefix(mut self, prefix: &str) -> Self {
        self.prefix = prefix.to_owned();
        self
    }

    /// Also prove each held role's holder through `/proc` (see
    /// [`Observer::verify_holder`]): a few more system calls per ring.
    pub fn proving_holders(mut self, prove: bool) -> Self {
        self.prove_holders = prove;
        self
    }

    /// Lists the directory and samples every ring in it.
    pub fn sample(&mut self) -> HostSample {
        let started = Instant::now();
        let taken_mono_ns = monotonic_ns();
        let mut events = Vec::new();
        let mut rings = Vec::new();
        let mut not_forge = 0;
        let listed = self.list();
        // /proc/locks, read once for the whole pass (when a ring first
        // needs it), not once per ring.
        let table = LockTable::new();
        let gone: Vec<String> = self
            .tracked
            .keys()
            .filter(|name| !listed.contains_key(*name))
            .cloned()
            .collect();
        for name in gone {
            self.tracked.remove(&name);
            events.push(HostEvent::Disappeared { name });
        }
        for (name, size) in listed {
            let kept = self.tracked.get_mut(&name).and_then(|t| t.observer.take());
            let (state, observer, session) = match sample_one(&name, size, kept, &table) {
                Outcome::Ring {
                    state,
                    observer,
                    session,
                } => (state, observer, session),
                Outcome::NotForge => {
                    not_forge += 1;
                    if self.tracked.remove(&name).is_some() {
                        events.push(HostEvent::Disappeared { name });
                    }
                    continue;
                }
                // Unlinked between the listing and the open.
                Outcome::Gone => continue,
            };
            let tracked = self.tracked.entry(name.clone()).or_insert_with(|| {
                events.push(HostEvent::Appeared { name: name.clone() });
                Tracked {
                    observer: None,
                    session: 0,
                    session_changes: 0,
                    full_since_mono_ns: None,
                }
            });
            tracked.observer = observer;
            if let Some(session) = session.filter(|&s| s != 0) {
                if tracked.session != 0 && tracked.session != session {
                    tracked.session_changes += 1;
                    events.push(HostEvent::Replaced {
                        name: name.clone(),
                        old: tracked.session,
                        new: session,
                    });
                }
                tracked.session = session;
            }
            let full = matches!(&state, RingState::Sampled(s)
                if s.slot_count > 0 && s.in_flight() >= u64::from(s.slot_count));
            tracked.full_since_mono_ns = if full {
                Some(tracked.full_since_mono_ns.unwrap_or(taken_mono_ns))
            } else {
                None
            };
            let holders = match (&tracked.observer, &state) {
                (Some(o), RingState::Sampled(s)) if self.prove_holders => [
                    (s.producer.lock_held == Some(true)).then(|| o.verify_holder(Role::Producer)),
                    (s.consumer.lock_held == Some(true)).then(|| o.verify_holder(Role::Consumer)),
                ],
                _ => [None, None],
            };
            rings.push(RingEntry {
                name,
                state,
                session_changes: tracked.session_changes,
                full_since_mono_ns: tracked.full_since_mono_ns,
                holders,
            });
        }
        HostSample {
            taken_mono_ns,
            took: started.elapsed(),
            rings,
            events,
            not_forge,
        }
    }

    /// Regular files of the directory whose names pass the prefix and
    /// Forge's name rules, with their sizes.
    fn list(&self) -> BTreeMap<String, u64> {
        let Ok(dir) = std::fs::read_dir(&self.dir) else {
            return BTreeMap::new();
        };
        dir.flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
            .filter_map(|e| {
                let name = format!("/{}", e.file_name().into_string().ok()?);
                let size = e.metadata().ok()?.size();
                (name.starts_with(&self.prefix) && validate_name(&name).is_ok())
                    .then_some((name, size))
            })
            .collect()
    }
}

/// What one listed name turned out to be.
enum Outcome {
    /// A Forge ring, or something that may be one.
    Ring {
        state: RingState,
        /// The observer to keep for the next sample.
        observer: Option<Observer>,
        /// The session the observer mapped.
        session: Option<u64>,
    },
    /// Opened, and not a Forge segment.
    NotForge,
    /// No longer there.
    Gone,
}

/// Samples `name` through `kept` while the name still leads to its object,
/// else opens it afresh.
fn sample_one(name: &str, size: u64, kept: Option<Observer>, table: &LockTable) -> Outcome {
    if let Some(o) = kept.filter(|o| o.name_status() == NameStatus::Same && !o.faulted()) {
        let session = Some(o.session_id());
        return match o.snapshot_in(table) {
            Ok(s) => Outcome::Ring {
                state: RingState::Sampled(Box::new(s)),
                observer: Some(o),
                session,
            },
            // Dropped: a mapping that shrank is useless from now on.
            Err(e) => Outcome::Ring {
                state: RingState::Unreadable {
                    reason: Unreadable::Lost,
                    detail: format!("{name}: {e}"),
                },
                observer: None,
                session,
            },
        };
    }
    let o = match Observer::open(name, Duration::ZERO) {
        Ok(o) => o,
        Err(e) => return classify(&e, size),
    };
    let session = Some(o.session_id());
    match o.snapshot_in(table) {
        Ok(s) => Outcome::Ring {
            state: RingState::Sampled(Box::new(s)),
            observer: Some(o),
            session,
        },
        Err(e) => Outcome::Ring {
            state: RingState::Unreadable {
                reason: Unreadable::Lost,
                detail: format!("{name}: {e}"),
            },
            observer: None,
            session,
        },
    }
}

/// What an open's failure says about the object.
fn classify(e: &SegmentError, size: u64) -> Outcome {
    let unreadable = |reason| Outcome::Ring {
        state: RingState::Unreadable {
            reason,
            detail: e.to_string(),
        },
        observer: None,
        session: None,
    };
    match e {
        SegmentError::Missing { .. } => Outcome::Gone,
        SegmentError::NotForge { .. } | SegmentError::NotRegular { .. } => Outcome::NotForge,
        // Nobody can tell what a file we may not read holds; its size at
        // least must be one a segment can have.
        SegmentError::PermissionDenied { .. } if plausible_size(size) => {
            unreadable(Unreadable::Permission)
        }
        SegmentError::PermissionDenied { .. } => Outcome::NotForge,
        SegmentError::Initializing { init_pid, .. } => Outcome::Ring {
            state: RingState::Initializing {
                init_pid: *init_pid,
            },
            observer: None,
            session: None,
        },
        // forge-init creates the object empty, then sizes it.
        SegmentError::TooShort { found: 0, .. } => Outcome::Ring {
            state: RingState::Initializing { init_pid: 0 },
            observer: None,
            session: None,
        },
        SegmentError::Retired {
            session, successor, ..
        } => Outcome::Ring {
            state: RingState::Retired {
                session: *session,
                successor: *successor,
            },
            observer: None,
            session: None,
        },
        SegmentError::Version { .. } => unreadable(Unreadable::Version),
        SegmentError::Malformed { .. }
        | SegmentError::TooLong { .. }
        | SegmentError::TooShort { .. } => unreadable(Unreadable::Malformed),
        _ => unreadable(Unreadable::Other),
    }
}

/// Can a segment be `size` bytes long? The header, then a power-of-two
/// count of slots of 8 + a multiple of 8 bytes: whatever follows the header
/// is a multiple of 16 and holds at least two of the smallest slots.
fn plausible_size(size: u64) -> bool {
    let header = HEADER_SIZE as u64;
    let smallest = u64::from(MIN_SLOT_COUNT) * (8 + MIN_PAYLOAD_CAPACITY as u64);
    size >= header + smallest && (size - header) % 16 == 0
}

// Real shm objects in /dev/shm: nothing Miri can run (shm_open).
#[cfg(all(test, not(miri)))]
mod tests {
    use super::*;
    use crate::segment::{CreateOptions, Segment};
    use crate::vocab::RoleState;

    fn opts() -> CreateOptions {
        CreateOptions {
            slot_count: 8,
            payload_capacity: 64,
            ..CreateOptions::default()
        }
    }

    fn prefix(what: &str) -> String {
        format!("/forge_test_host_{what}_{}_", std::process::id())
    }

    /// Unlinks every name it was given, even when the test fails.
    struct Names(Vec<String>);
    impl Drop for Names {
        fn drop(&mut self) {
            for n in &self.0 {
                let _ = crate::segment::unlink(n);
            }
        }
    }

    /// A pass reads the kernel's lock table once; a holder that took its
    /// lock after that read (and activated) is found held, not dead, by a
    /// fresh look; a role nobody holds stays unheld.
    #[test]
    fn a_holder_newer_than_the_pass_s_lock_table_is_not_dead() {
        let name = format!("{}a", prefix("table"));
        let _names = Names(vec![name.clone()]);
        let segment = Segment::create(&name, &opts()).unwrap();
        let observer = Observer::open(&name, Duration::ZERO).unwrap();
        let table = LockTable::new();
        // The table is read now, before the producer exists.
        assert_eq!(
            observer.snapshot_in(&table).unwrap().producer.lock_held,
            Some(false)
        );
        let producer = segment.producer().unwrap();
        let snap = observer.snapshot_in(&table).unwrap();
        assert_eq!(snap.producer.role_state, RoleState::Active);
        assert_eq!(
            snap.producer.lock_held,
            Some(true),
            "a stale table said dead"
        );
        assert_eq!(snap.consumer.lock_held, Some(false));
        drop(producer);
        assert_eq!(
            observer
                .snapshot_in(&LockTable::new())
                .unwrap()
                .producer
                .lock_held,
            Some(false)
        );
    }

    #[test]
    fn rings_appear_change_session_and_disappear_as_events() {
        let p = prefix("events");
        let names = Names(vec![format!("{p}1"), format!("{p}2")]);
        let a = Segment::create(&names.0[0], &opts()).unwrap();
        let mut scanner = HostScanner::new().with_prefix(&p);
        let first = scanner.sample();
        assert_eq!(
            first.events,
            vec![HostEvent::Appeared {
                name: names.0[0].clone()
            }]
        );
        let b = Segment::create(&names.0[1], &opts()).unwrap();
        let old = a.session_id();
        drop(a);
        let (a2, _) = Segment::replace(&names.0[0], &opts(), crate::LiveHolders::Refuse).unwrap();
        let second = scanner.sample();
        assert_eq!(
            second.events,
            vec![
                HostEvent::Replaced {
                    name: names.0[0].clone(),
                    old,
                    new: a2.session_id()
                },
                HostEvent::Appeared {
                    name: names.0[1].clone()
                },
            ]
        );
        assert_eq!(second.rings[0].session_changes, 1);
        assert_eq!(second.rings[1].session_changes, 0);
        assert_eq!(
            second.rings[1].snapshot().unwrap().identity.session_id,
            b.session_id()
        );
        b.unlink().unwrap();
        let third = scanner.sample();
        assert_eq!(
            third.events,
            vec![HostEvent::Disappeared {
                name: names.0[1].clone()
            }]
        );
        assert_eq!(third.rings.len(), 1);
    }

    #[test]
    fn objects_that_are_not_forge_segments_are_only_counted() {
        let p = prefix("foreign");
        let name = format!("{p}1");
        let _names = Names(vec![name.clone()]);
        std::fs::write(crate::shm_path(&name), vec![7u8; 8192]).unwrap();
        let sample = HostScanner::new().with_prefix(&p).sample();
        assert!(sample.rings.is_empty(), "{:?}", sample.rings);
        assert_eq!(sample.not_forge, 1);
    }

    #[test]
    fn an_empty_object_is_a_ring_being_initialized() {
        let p = prefix("empty");
        let name = format!("{p}1");
        let _names = Names(vec![name.clone()]);
        std::fs::write(crate::shm_path(&name), b"").unwrap();
        let sample = HostScanner::new().with_prefix(&p).sample();
        assert_eq!(
            sample.rings[0].state,
            RingState::Initializing { init_pid: 0 }
        );
    }

    #[test]
    fn a_full_ring_says_since_when() {
        let p = prefix("full");
        let name = format!("{p}1");
        let _names = Names(vec![name.clone()]);
        let seg = Segment::create(&name, &opts()).unwrap();
        let mut producer = seg.producer().unwrap();
        let mut scanner = HostScanner::new().with_prefix(&p);
        assert_eq!(scanner.sample().rings[0].full_since_mono_ns, None);
        while producer.write_from(&[1; 8]).is_ok() {}
        producer.flush_index();
        let since = scanner.sample().rings[0].full_since_mono_ns.unwrap();
        assert_eq!(scanner.sample().rings[0].full_since_mono_ns, Some(since));
    }

    #[test]
    fn sizes_a_segment_cannot_have_are_told_apart() {
        assert!(plausible_size(4096 + 8 * (8 + 64)));
        assert!(plausible_size(2_105_344));
        assert!(!plausible_size(4096));
        assert!(!plausible_size(4096 + 8 * (8 + 64) + 8));
        assert!(!plausible_size(100));
    }
}
