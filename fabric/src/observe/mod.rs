//! The read-only observer, for inspectors such as forge-top.
//!
//! It maps the segment `O_RDONLY` / `PROT_READ` (it cannot write), reads
//! shared fields only with atomic loads, copies slots out word by word and
//! validates each copy afterwards, and re-checks the file's size before every
//! sample so a truncated segment is reported instead of faulting.
//!
//! ```text
//!  observe/
//!    mod          Observer: open, snapshot
//!    snapshot     what a snapshot holds and what is wrong with it
//!    slots        validated slot copies
//!    holder       which process holds a role, proven; signals through a pidfd
//!    fault_guard  a SIGBUS in a mapping that shrank under us, absorbed
//!    host         every ring of the host, sampled into owned data
//! ```
//!
//! A truncation can still land between the size check and the loads. For that
//! window every observer's mapping is registered with a process-wide SIGBUS
//! guard ([`fault_guard`]): a fault inside a registered mapping gets a
//! read-only zero page mapped over the vanished one, the load then reads
//! zero, and the observer is poisoned, so the sample is thrown away and
//! reported as [`ObserveError::Truncated`] instead of killing the process.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::time::Duration;

use crate::clock::monotonic_ns;
use crate::error::{Corruption, SegmentError};
use crate::hist::Histogram;
use crate::layout::*;
use crate::position::Position;
use crate::process::LockedObject;
use crate::segment::locks::{self, LockState};
use crate::segment::sys::{self, FileFacts};
use crate::segment::validate::{
    check_header_fits, retry_while_initializing, validate, validate_name, Geometry,
    IdentitySnapshot,
};
use crate::segment::NameStatus;
use crate::sync::{AtomicU64, Ordering};
use crate::vocab::{Role, RoleState};

pub mod fault_guard;
mod holder;
pub mod host;
mod liveness;
mod slots;
mod snapshot;

pub use crate::process::Identity;
pub use holder::{HolderCheck, SignalRefused};
pub use liveness::Liveness;
pub use slots::SlotCopy;
pub use snapshot::{PaceSnapshot, Problem, SideSnapshot, Snapshot};

/// Most positions [`Snapshot::damaged`] checks per snapshot (all of them in
/// rings of up to this many slots).
pub const DAMAGE_SCAN: u64 = 4096;

/// Most loads of `head` a snapshot makes looking for a `tail` that did not
/// move across one (LAYOUT.md, rule 4).
const INDEX_TRIES: u32 = 8;

/// Why a sample could not be taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObserveError {
    /// The file shrank below what we mapped: reading it would fault.
    #[error("segment was truncated under us: {now} bytes, {mapped} mapped")]
    Truncated {
        /// The file's size now.
        now: u64,
        /// The size we mapped.
        mapped: u64,
    },
    /// fstat failed.
    #[error("fstat failed: {0}")]
    Stat(String),
}

/// A read-only attachment to a segment.
pub struct Observer {
    name: String,
    file: File,
    owner_uid: u32,
    // Declared before `map`: it is unregistered before the unmapping.
    guard: Option<fault_guard::Registration>,
    map: memmap2::Mmap,
    len: usize,
    /// What the validated header said when we attached; zeros only in
    /// the moment between mapping and validating.
    geometry: Geometry,
    file_id: (u64, u64),
    owner_warning: Option<String>,
    /// Where the role locks are, as far as an observer can tell (boxed: an
    /// observer is kept in enums beside small variants).
    locks: Box<ObservedLocks>,
}

/// Where an observer looks for a segment's role locks.
#[derive(Debug, Clone)]
enum ObservedLocks {
    /// On the segment itself (layouts 2 and 3): asked through our own
    /// read-only descriptor.
    Segment(LockedObject),
    /// On the role-lock object, which an observer may not open: found in
    /// the host's lock list (`/proc/locks`).
    Object(LockedObject),
    /// The role-lock object at the name is not one to trust: why.
    Untrusted(String),
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer")
            .field("name", &self.name)
            .field("len", &self.len)
            .field("session", &format_args!("{:#018x}", self.geometry.session))
            .finish()
    }
}

impl Observer {
    /// Opens `name` read-only, waiting up to `init_wait` while it initializes.
    /// Retired segments are refused: inspectors attach to the live one.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use forge_fabric::{CreateOptions, Observer, Segment};
    ///
    /// let name = format!("/forge_doc_observer_{}", std::process::id());
    /// let segment = Segment::create(&name, &CreateOptions::default())?;
    /// let observer = Observer::open(&name, Duration::from_millis(200))?;
    /// assert_eq!(observer.session_id(), segment.session_id());
    /// assert_eq!(observer.slot_count(), segment.slot_count());
    /// assert_eq!(observer.mapped_len() as u64, segment.size());
    /// assert!(!observer.faulted());
    /// segment.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn open(name: &str, init_wait: Duration) -> Result<Observer, SegmentError> {
        validate_name(name)?;
        retry_while_initializing(name, init_wait, || Self::open_once(name))
    }

    fn open_once(name: &str) -> Result<Observer, SegmentError> {
        let file = sys::open(name, false)?;
        let facts = FileFacts::of(name, &file)?;
        check_header_fits(name, facts.size)?;
        let map_io = |source| SegmentError::Io {
            name: name.to_owned(),
            action: "mmap",
            source,
        };
        // The header alone first: how much to map comes from the validated
        // header, never from the file's size, which anyone with write access
        // can set to 2^47 bytes.
        // SAFETY: a read-only shared mapping of the file's first page, which
        // exists (checked above). It is only read through atomics.
        let header_map =
            unsafe { memmap2::MmapOptions::new().len(HEADER_SIZE).map(&file) }.map_err(map_io)?;
        {
            let guard = fault_guard::register(header_map.as_ptr(), header_map.len());
            // SAFETY: page-aligned, HEADER_SIZE long; every byte of Header
            // is an atomic (no padding: layout's asserts), valid for any
            // bytes and for other processes' stores; only loads are made.
            let header = unsafe { &*header_map.as_ptr().cast::<Header>() };
            let geometry = validate(name, header, facts.size, false);
            if guard
                .as_ref()
                .is_some_and(fault_guard::Registration::faulted)
            {
                return Err(SegmentError::TooShort {
                    name: name.to_owned(),
                    found: file.metadata().map_or(0, |m| m.len()),
                    expected: facts.size,
                });
            }
            geometry?;
        }
        let len = facts.size as usize;
        // SAFETY: a read-only shared mapping of a file of `len` bytes, which
        // validate() just found equal to the size its header declares. It
        // may change under us (other processes write it) and may be
        // truncated; we only read it through atomics, after re-checking size.
        let map = unsafe { memmap2::MmapOptions::new().len(len).map(&file) }.map_err(map_io)?;
        let observer = Observer {
            name: name.to_owned(),
            owner_uid: facts.uid,
            file,
            guard: fault_guard::register(map.as_ptr(), map.len()),
            len: map.len(),
            map,
            geometry: Geometry::default(),
            file_id: facts.file_id,
            owner_warning: facts.owner_warning(name),
            locks: Box::new(ObservedLocks::Segment(LockedObject::of(
                facts.file_id.0,
                facts.file_id.1,
            ))),
        };
        let geometry = validate(name, observer.header(), facts.size, false);
        if observer.faulted() {
            // Truncated while we read the header: what we read was zeros.
            return Err(SegmentError::TooShort {
                name: name.to_owned(),
                found: observer.file.metadata().map_or(0, |m| m.len()),
                expected: facts.size,
            });
        }
        let geometry = geometry?;
        let locks = Box::new(match geometry.role_lock_ino {
            0 => (*observer.locks).clone(),
            ino => {
                let path = sys::shm_path(&locks::role_locks_name(name));
                match std::fs::symlink_metadata(&path) {
                    Ok(meta) => match locks::check_object(&meta, &facts, ino) {
                        Ok(()) => ObservedLocks::Object(LockedObject::of(meta.dev(), ino)),
                        Err(why) => ObservedLocks::Untrusted(format!("{path}: {why}")),
                    },
                    Err(e) => ObservedLocks::Untrusted(format!("{path}: {e}")),
                }
            }
        });
        Ok(Observer {
            geometry,
            locks,
            ..observer
        })
    }

    /// What each role's lock byte holds now, producer first: a write lock
    /// (a holder), read locks only (a squatter), or nothing; `None` where
    /// the kernel would not say, or the role-lock object at the name is not
    /// the one the header names ([`role_lock_problem`](Self::role_lock_problem)).
    pub fn role_locks(&self) -> [Option<LockState>; 2] {
        self.role_locks_in(&LockTable::new())
    }

    /// [`role_locks`](Self::role_locks) from `table`, the kernel's lock
    /// table as read (once, when first needed) for a pass over many rings.
    pub(crate) fn role_locks_in(&self, table: &LockTable) -> [Option<LockState>; 2] {
        match &*self.locks {
            ObservedLocks::Segment(_) => Role::ALL.map(|role| locks::state(&self.file, role)),
            ObservedLocks::Object(object) => match table.get() {
                Some(all) => Role::ALL.map(|role| Some(locks::state_among(all, *object, role))),
                None => [None, None],
            },
            ObservedLocks::Untrusted(_) => [None, None],
        }
    }

    /// Why role locks cannot be looked at, if they cannot: the role-lock
    /// object at the name is missing, or not the segment's (its inode,
    /// owner or mode say so).
    pub fn role_lock_problem(&self) -> Option<&str> {
        match &*self.locks {
            ObservedLocks::Untrusted(why) => Some(why),
            _ => None,
        }
    }

    /// The object the kernel's lock lines name for this segment's role
    /// locks, if it can be trusted.
    pub(crate) fn lock_object(&self) -> Option<LockedObject> {
        match &*self.locks {
            ObservedLocks::Segment(o) | ObservedLocks::Object(o) => Some(*o),
            ObservedLocks::Untrusted(_) => None,
        }
    }

    fn header(&self) -> &Header {
        debug_assert!(self.len >= HEADER_SIZE);
        // SAFETY: page-aligned, at least HEADER_SIZE long (checked at open);
        // every byte of Header is an atomic (no padding: layout's asserts),
        // so other processes' stores are allowed. Only loads are made;
        // the mapping is PROT_READ, so a store would fault, not corrupt.
        unsafe { &*self.map.as_ptr().cast::<Header>() }
    }

    fn word(&self, off: usize) -> &AtomicU64 {
        debug_assert!(off % 8 == 0 && off + 8 <= self.len);
        // SAFETY: `off` is 8-aligned (header and slot sizes are multiples of
        // 8) and inside the mapping (validated geometry).
        unsafe { &*self.map.as_ptr().add(off).cast::<AtomicU64>() }
    }

    /// The word of slot `index` (< `slot_count`).
    fn slot_word(&self, index: u32) -> &AtomicU64 {
        self.word(slot_offset(index, self.geometry.payload_capacity))
    }

    /// The segment name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Set when the object is owned by another user or writable by others.
    pub fn owner_warning(&self) -> Option<&str> {
        self.owner_warning.as_deref()
    }

    /// The session at attach time.
    pub fn session_id(&self) -> u64 {
        self.geometry.session
    }

    /// Slots in the ring.
    pub fn slot_count(&self) -> u32 {
        self.geometry.slot_count
    }

    /// Bytes mapped.
    pub fn mapped_len(&self) -> usize {
        self.len
    }

    /// Start of the read-only mapping, for tests that prove a store through
    /// it faults. Nothing in Forge writes through it.
    #[doc(hidden)]
    pub fn mapping_ptr(&self) -> *const u8 {
        self.map.as_ptr()
    }

    /// Is the name still ours, replaced, or gone?
    pub fn name_status(&self) -> NameStatus {
        sys::name_status(&self.name, self.file_id)
    }

    /// Did a load from this mapping fault (the object shrank under it)?
    /// Then some of it reads as zeros for good: the observer is useless and
    /// every sample fails with [`ObserveError::Truncated`].
    pub fn faulted(&self) -> bool {
        self.guard
            .as_ref()
            .is_some_and(fault_guard::Registration::faulted)
    }

    fn check_size(&self) -> Result<(), ObserveError> {
        let now = self
            .file
            .metadata()
            .map_err(|e| ObserveError::Stat(e.to_string()))?
            .len();
        if now < self.len as u64 || self.faulted() {
            return Err(ObserveError::Truncated {
                now,
                mapped: self.len as u64,
            });
        }
        Ok(())
    }

    /// Copies every header field. The indices are a pair that can both be
    /// true (LAYOUT.md, rule 4): `tail`, then `head`, then `tail` again,
    /// until `tail` did not move between them (a few tries), so that
    /// `head - tail` is at most the ring and `tail - head` at most the
    /// publish batch whenever the ring is sound.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use forge_fabric::{CreateOptions, Observer, RoleState, Segment};
    ///
    /// let name = format!("/forge_doc_snapshot_{}", std::process::id());
    /// let segment = Segment::create(&name, &CreateOptions::default())?;
    /// let mut producer = segment.producer()?;
    /// producer.set_index_batch(32);
    /// for i in 0..3u8 {
    ///     producer.write_from(&[i])?;
    /// }
    /// let snap = Observer::open(&name, Duration::ZERO)?.snapshot()?;
    /// // head is stored every 32 commits: the newest frame is past it.
    /// assert_eq!((snap.head, snap.tail, snap.newest), (0, 0, Some(2)));
    /// assert_eq!(snap.producer.role_state, RoleState::Active);
    /// assert_eq!(snap.producer.lock_held, Some(true));
    /// assert!(snap.problems().is_empty());
    /// # drop(producer);
    /// segment.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn snapshot(&self) -> Result<Snapshot, ObserveError> {
        self.snapshot_in(&LockTable::new())
    }

    /// [`snapshot`](Self::snapshot) with role locks looked up in `table`,
    /// shared by a pass over many rings so `/proc/locks` is read once per
    /// pass, not once per ring. A role whose state word says active but
    /// which the table shows unheld is looked up again in a fresh read: the
    /// table may predate a holder that took its lock and activated since
    /// (holders lock first, then activate; a snapshot reads the state word
    /// first, then the locks), and that must not look dead.
    pub(crate) fn snapshot_in(&self, table: &LockTable) -> Result<Snapshot, ObserveError> {
        self.check_size()?;
        // A table read before this snapshot's state words may be older than
        // a holder that took its role since: see the re-read below.
        let table_predates = table.was_read();
        let h = self.header();
        let identity = IdentitySnapshot::read(&h.identity);
        let (tail, head) = self.indices();
        let mut consumer = SideSnapshot::read(&h.consumer);
        let mut producer = SideSnapshot::read(&h.producer);
        let damaged = self.damaged_between(tail, head);
        let newest = self.newest_from(head, tail, producer.batch);
        // Only a write lock is a holder.
        let held = |locks: [Option<LockState>; 2]| locks.map(|l| l.map(|s| s == LockState::Held));
        let mut lock_held = held(self.role_locks_in(table));
        let active_unheld = [&producer, &consumer]
            .iter()
            .zip(lock_held)
            .any(|(side, h)| side.role_state == RoleState::Active && h != Some(true));
        if active_unheld && table_predates {
            lock_held = held(self.role_locks());
        }
        [producer.lock_held, consumer.lock_held] = lock_held;
        let snap = Snapshot {
            name: self.name.clone(),
            file_size: self.len as u64,
            identity,
            slot_count: self.geometry.slot_count,
            producer,
            consumer,
            pace: snapshot::PaceSnapshot::read(&h.pace),
            latency: Histogram::read(&h.latency),
            head,
            tail,
            damaged,
            newest,
            taken_mono_ns: monotonic_ns(),
        };
        // A truncation during the loads above makes them read zeros.
        self.check_size().map(|()| snap)
    }

    /// `tail` and `head` loaded as LAYOUT.md's rule 4 says: `tail`, `head`,
    /// `tail` again, until `tail` stayed put across the load of `head` (at
    /// most [`INDEX_TRIES`] times; then the last pair, which a sound ring
    /// running flat out only makes look a little fuller or emptier).
    fn indices(&self) -> (u64, u64) {
        let h = self.header();
        // SYNC: pairs with the Release store of tail in `Consumer::store_tail`.
        let mut tail = h.consumer.index.load(Ordering::Acquire);
        let mut head = tail;
        for _ in 0..INDEX_TRIES {
            // SYNC: pairs with the Release store of head in
            // `Producer::store_head`.
            head = h.producer.index.load(Ordering::Acquire);
            // SYNC: as the first load of tail.
            let again = h.consumer.index.load(Ordering::Acquire);
            if again == tail {
                break;
            }
            tail = again;
        }
        (tail, head)
    }

    /// The newest published position (LAYOUT.md, rule 8): the highest `p`
    /// whose slot carries `stamp(p)`, looked for from the highest position
    /// the producer can have published down to the highest one `head` and
    /// `tail` prove published. `head` lags the newest frame by up to the
    /// producer's batch less one, and `tail` may be ahead of `head` by as
    /// much (a consumer reads frames the moment they are committed), so
    /// neither alone says where the newest frame is: on a 2-slot ring with a
    /// batch of 32, the slot at `head` can hold a frame 30 positions newer.
    /// `None` before the first frame (or when no slot of the window carries
    /// its own stamp: damage, which the snapshot reports apart).
    fn newest_from(&self, head: u64, tail: u64, batch: u32) -> Option<u64> {
        let n = self.geometry.slot_count;
        if !n.is_power_of_two() {
            return None;
        }
        let shift = n.trailing_zeros();
        // SYNC: pairs with the Release store of the slot word in
        // `WriteSlot::commit_flagged`.
        let stamp_at =
            |p: Position| unpack_word(self.slot_word(p.slot(n)).load(Ordering::Acquire)).2;
        let (head, tail) = (Position::new(head), Position::new(tail));
        // Every position below max(head, tail) was published: the newest is
        // at least the one before it.
        let low = head.max(tail).minus(1);
        // The producer stores head at least every `batch` commits, so the
        // newest frame is at most head + batch - 1 (between a commit and the
        // head store that follows it); and it publishes only into slots the
        // stored tail freed, so at most tail + n - 1. The batch comes from
        // the header: bounded, so a damaged one costs at most a ring's
        // worth of loads.
        let by_head = head.plus(u64::from(batch.max(1))).minus(1);
        let by_tail = tail.plus(u64::from(n)).minus(1);
        let span = |top: Position| u64::try_from(top.ahead_of(low)).unwrap_or(0);
        let window = span(by_head).min(span(by_tail)).min(u64::from(n));
        (0..=window)
            .map(|k| low.plus(window - k))
            .find(|&p| stamp_at(p) == stamp_for(p.get(), shift))
            .map(Position::get)
    }

    /// The first position from `tail` on, below `head` (loaded after `tail`,
    /// with Acquire), whose slot lacks its stamp. The producer stores each
    /// word before a head that covers it, so such a slot was damaged —
    /// unless the consumer released it meanwhile and the producer rewrote it
    /// for the next lap, which is why only positions at or past `tail` as
    /// re-read after the word loads are reported.
    fn damaged_between(&self, tail: u64, head: u64) -> Option<Corruption> {
        let n = u64::from(self.geometry.slot_count);
        let past = head.wrapping_sub(tail) as i64;
        if n == 0 || past <= 0 || past as u64 > n {
            return None;
        }
        let shift = self.geometry.slot_count.trailing_zeros();
        let (pos, index, expected, found) = (0..(past as u64).min(DAMAGE_SCAN)).find_map(|k| {
            let pos = tail.wrapping_add(k);
            let index = (pos & (n - 1)) as u32;
            // SYNC: pairs with the Release store of the slot word in
            // `WriteSlot::commit_flagged`, ordered before the head store we acquired.
            let found = unpack_word(self.slot_word(index).load(Ordering::Acquire)).2;
            let expected = stamp_for(pos, shift);
            (found != expected).then_some((pos, index, expected, found))
        })?;
        // SYNC: pairs with the Release store of tail in `Consumer::store_tail`.
        let tail_now = self.header().consumer.index.load(Ordering::Acquire);
        (pos.wrapping_sub(tail_now) as i64 >= 0).then_some(Corruption::Stamp {
            position: pos,
            slot: u64::from(index),
            expected,
            found,
            head,
        })
    }
}

/// The kernel's table of file locks (`/proc/locks`), read at most once,
/// when an observer first needs it: one read for a pass over every ring of
/// the host instead of one per ring.
#[derive(Debug, Default)]
pub(crate) struct LockTable {
    read: std::cell::OnceCell<Option<Vec<crate::process::KernelLock>>>,
}

impl LockTable {
    /// A table not read yet: read when first needed, then kept (for one
    /// snapshot, or a pass over every ring of the host).
    pub(crate) fn new() -> Self {
        LockTable::default()
    }

    /// The table, read now if it was not yet; `None` if the kernel would
    /// not say.
    fn get(&self) -> Option<&[crate::process::KernelLock]> {
        self.read.get_or_init(crate::process::host_locks).as_deref()
    }

    /// Read already (so possibly older than a header read after it)?
    fn was_read(&self) -> bool {
        self.read.get().is_some()
    }
}
