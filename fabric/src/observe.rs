//! The read-only observer, for inspectors such as forge-top.
//!
//! It maps the segment `O_RDONLY` / `PROT_READ` (it cannot write), reads
//! shared fields only with atomic loads, copies slots out word by word and
//! validates each copy afterwards, and re-checks the file's size before every
//! sample so a truncated segment is reported instead of faulting.
//!
//! A truncation can still land between that check and the loads. For that
//! window every observer's mapping is registered with a process-wide SIGBUS
//! guard ([`fault_guard`]): a fault inside a registered mapping gets a
//! read-only zero page mapped over the vanished one, the load then reads
//! zero, and the observer is poisoned, so the sample is thrown away and
//! reported as [`ObserveError::Truncated`] instead of killing the process.

use std::fs::File;
use std::time::{Duration, Instant};

use crate::clock::monotonic_ns;
use crate::error::SegmentError;
use crate::layout::*;
use crate::process::{Identity, Pidfd};
use crate::segment::{
    check_header_fits, name_status, open_read_only_file, role_locked, validate, validate_name,
    FileFacts, Side,
};
use crate::sync::{fence, AtomicU64, Ordering};

/// The lifecycle state of a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SegmentState {
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

impl SegmentState {
    /// From the header's `state` field.
    pub fn from_code(code: u32) -> Self {
        match code {
            STATE_INITIALIZING => SegmentState::Initializing,
            STATE_LIVE => SegmentState::Live,
            STATE_RETIRED => SegmentState::Retired,
            other => SegmentState::Unknown(other),
        }
    }

    /// Lower-case name.
    pub fn name(self) -> &'static str {
        match self {
            SegmentState::Initializing => "initializing",
            SegmentState::Live => "live",
            SegmentState::Retired => "retired",
            SegmentState::Unknown(_) => "unknown",
        }
    }
}

/// One side's line, copied out.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SideSnapshot {
    /// `head` (producer) or `tail` (consumer).
    pub index: u64,
    /// Asleep on its futex right now.
    pub sleeping: bool,
    /// Wait strategy code (0 spin, 1 yield, 2 park).
    pub wait_strategy: u32,
    /// Role holder's pid, 0 when vacant.
    pub pid: u32,
    /// Core the holder pinned itself to.
    pub core: Option<u32>,
    /// Session the holder attached to.
    pub session: u64,
    /// CLOCK_MONOTONIC ns of the last heartbeat.
    pub heartbeat_ns: u64,
    /// Frames committed or released.
    pub messages: u64,
    /// Payload bytes committed or released.
    pub bytes: u64,
    /// Times the ring was found full (producer) or empty (consumer).
    pub backpressure: u64,
    /// `ROLE_*` value.
    pub role_state: u32,
    /// Commits per `head` store, or releases per `tail` store.
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
}

impl SideSnapshot {
    /// The holder as its line names it.
    pub fn identity(&self) -> Identity {
        Identity {
            pid: self.pid,
            pidns: self.pidns,
            start_ticks: self.start_ticks,
        }
    }

    fn read(line: &SideLine) -> Self {
        // SYNC: pairs with the Release store of role_state in role claim.
        let role_state = line.role_state.load(Ordering::Acquire);
        let core = line.core.load(Ordering::Relaxed);
        SideSnapshot {
            // SYNC: pairs with the Release stores of head in
            // `Producer::publish` and of tail in `Consumer::flush`.
            index: line.index.load(Ordering::Acquire),
            sleeping: line.sleeping.load(Ordering::Relaxed) != 0,
            wait_strategy: line.wait_strategy.load(Ordering::Relaxed),
            pid: line.pid.load(Ordering::Relaxed),
            core: (core != CORE_NONE).then_some(core),
            session: line.session.load(Ordering::Relaxed),
            heartbeat_ns: line.heartbeat_ns.load(Ordering::Relaxed),
            messages: line.messages.load(Ordering::Relaxed),
            bytes: line.bytes.load(Ordering::Relaxed),
            backpressure: line.backpressure.load(Ordering::Relaxed),
            role_state,
            batch: line.batch.load(Ordering::Relaxed).max(1),
            started_mono_ns: line.started_mono_ns.load(Ordering::Relaxed),
            pidns: line.pidns.load(Ordering::Relaxed),
            start_ticks: line.start_ticks.load(Ordering::Relaxed),
            uid: line.uid.load(Ordering::Relaxed),
            flags: line.flags.load(Ordering::Relaxed),
            program: program_name(&line.program),
            lock_held: None,
        }
    }

    /// Heartbeat age at `now_ns` (CLOCK_MONOTONIC), if it ever beat.
    pub fn heartbeat_age(&self, now_ns: u64) -> Option<Duration> {
        (self.heartbeat_ns != 0)
            .then(|| Duration::from_nanos(now_ns.saturating_sub(self.heartbeat_ns)))
    }
}

/// The 16 program bytes of a line as text: up to the first NUL, anything but
/// printable ASCII shown as `?` (the bytes come from another process and
/// may be hostile; they reach terminals).
fn program_name(words: &[AtomicU64; 2]) -> String {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&words[0].load(Ordering::Relaxed).to_le_bytes());
    bytes[8..].copy_from_slice(&words[1].load(Ordering::Relaxed).to_le_bytes());
    bytes
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| if b.is_ascii_graphic() { b as char } else { '?' })
        .collect()
}

/// The consumer's latency histogram, copied out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LatencySnapshot {
    /// Samples.
    pub count: u64,
    /// Sum of samples, ns.
    pub sum_ns: u64,
    /// Largest sample, ns.
    pub max_ns: u64,
    /// Samples at or above [`HIST_OVERFLOW_NS`].
    pub overflow: u64,
    /// Per-bucket counts, [`HIST_BUCKETS`] of them.
    pub buckets: Vec<u64>,
}

impl Default for LatencySnapshot {
    fn default() -> Self {
        LatencySnapshot {
            count: 0,
            sum_ns: 0,
            max_ns: 0,
            overflow: 0,
            buckets: vec![0; HIST_BUCKETS],
        }
    }
}

impl LatencySnapshot {
    /// The latency at quantile `q` (0..=1), in ns: the midpoint of the bucket
    /// it falls in (within 3.2 % of the true value), or the max for the
    /// overflow. `None` without samples.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        // u128: the counts come from another process and may be anything.
        let total: u128 =
            self.buckets.iter().map(|&n| u128::from(n)).sum::<u128>() + u128::from(self.overflow);
        if total == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * total as f64).ceil() as u128).max(1);
        let mut seen = 0u128;
        for (i, &n) in self.buckets.iter().enumerate() {
            seen += u128::from(n);
            if seen >= rank {
                let mid = (bucket_low(i) + bucket_high(i)) / 2;
                return Some(mid.min(self.max_ns.max(bucket_low(i))));
            }
        }
        Some(self.max_ns)
    }

    /// Mean latency in ns.
    pub fn mean(&self) -> Option<u64> {
        (self.count > 0).then(|| self.sum_ns / self.count)
    }

    /// The difference `self - earlier`, bucket by bucket: the samples
    /// recorded between two snapshots.
    ///
    /// Its `max_ns` is the window's own maximum as far as the buckets tell:
    /// the upper bound of the highest bucket that gained samples (never above
    /// the all-time max), or the all-time max when the overflow bucket grew.
    pub fn since(&self, earlier: &LatencySnapshot) -> LatencySnapshot {
        let buckets: Vec<u64> = self
            .buckets
            .iter()
            .zip(earlier.buckets.iter().chain(std::iter::repeat(&0)))
            .map(|(a, b)| a.saturating_sub(*b))
            .collect();
        let overflow = self.overflow.saturating_sub(earlier.overflow);
        let max_ns = if overflow > 0 {
            self.max_ns
        } else {
            buckets
                .iter()
                .rposition(|&n| n > 0)
                .map_or(0, |i| bucket_high(i).min(self.max_ns))
        };
        LatencySnapshot {
            count: self.count.saturating_sub(earlier.count),
            sum_ns: self.sum_ns.wrapping_sub(earlier.sum_ns),
            max_ns,
            overflow,
            buckets,
        }
    }
}

/// Every header field, copied out at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Snapshot {
    /// Segment name.
    pub name: String,
    /// The file's size when sampled.
    pub file_size: u64,
    /// `magic`.
    pub magic: u64,
    /// `layout_version`.
    pub layout_version: u32,
    /// `header_size`.
    pub header_size: u32,
    /// `slot_size`.
    pub slot_size: u32,
    /// `slot_count`.
    pub slot_count: u32,
    /// `segment_size`.
    pub segment_size: u64,
    /// `payload_capacity`.
    pub payload_capacity: u32,
    /// `session_id`.
    pub session_id: u64,
    /// `state`.
    pub state: SegmentState,
    /// `successor_session`.
    pub successor_session: u64,
    /// `init_pid`.
    pub init_pid: u32,
    /// `created_unix_ns`.
    pub created_unix_ns: u64,
    /// `created_mono_ns`.
    pub created_mono_ns: u64,
    /// The producer's line.
    pub producer: SideSnapshot,
    /// The consumer's line.
    pub consumer: SideSnapshot,
    /// The consumer's latency histogram.
    pub latency: LatencySnapshot,
    /// `head`, read after `tail`.
    pub head: u64,
    /// `tail`.
    pub tail: u64,
    /// The first frame between `tail` and `head` whose slot does not hold
    /// its stamp: `head` says it was published, so its slot word was
    /// damaged, and the consumer will stop there for good. Only positions
    /// at or past `tail` as re-read after the word loads count, so a slot
    /// rewritten for the next lap is never taken for damage. At most
    /// [`DAMAGE_SCAN`] positions are looked at per snapshot.
    pub damaged: Option<crate::Corruption>,
    /// CLOCK_MONOTONIC ns when sampled.
    pub taken_mono_ns: u64,
}

/// A slot's place in the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SlotState {
    /// Published and not yet released by the consumer.
    Pending,
    /// Released: holds an old frame the producer may overwrite.
    Consumed,
    /// Never written in this session.
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

/// A slot copied out of the ring.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotCopy {
    /// Slot index, `0..slot_count`.
    pub index: u32,
    /// The ring position the frame was published at, if the stamp says.
    pub position: Option<u64>,
    /// Pending, consumed or free.
    pub state: SlotState,
    /// Payload length from the slot word.
    pub len: u16,
    /// Flags from the slot word.
    pub flags: u16,
    /// Stamp from the slot word.
    pub stamp: u32,
    /// The payload bytes (`len` of them, at most a slot).
    pub bytes: Vec<u8>,
    /// The slot word changed between the two loads around the copy: the
    /// producer rewrote the slot while we read it.
    pub changed: bool,
    /// The consumer has released this frame and the producer's head is close
    /// enough that it may be rewriting the slot for the next lap right now.
    pub overwritable: bool,
    /// `changed || overwritable`: `bytes` must not be trusted.
    pub torn: bool,
}

impl Snapshot {
    /// Frames published and not yet released, as far as the indices say.
    pub fn in_flight(&self) -> u64 {
        self.head.saturating_sub(self.tail)
    }

    /// `in_flight / slot_count`, 0..=1 for a sound header.
    pub fn fill_ratio(&self) -> f64 {
        if self.slot_count == 0 {
            return 0.0;
        }
        self.in_flight() as f64 / f64::from(self.slot_count)
    }

    /// Broken invariants, each as a sentence. Empty for a sound header.
    pub fn invariant_violations(&self) -> Vec<String> {
        let mut out = Vec::new();
        let slack = u64::from(self.producer.batch);
        if self.tail > self.head.saturating_add(slack) {
            out.push(format!(
                "tail {} is ahead of head {} by more than the publish batch {slack}",
                self.tail, self.head
            ));
        }
        if self.in_flight() > u64::from(self.slot_count) {
            out.push(format!(
                "{} frames in flight exceed the {} slots",
                self.in_flight(),
                self.slot_count
            ));
        }
        if self.session_id == 0 && self.state == SegmentState::Live {
            out.push("state is live but session_id is 0".into());
        }
        if let SegmentState::Unknown(code) = self.state {
            out.push(format!("state field holds unknown value {code}"));
        }
        if let Some(damage) = &self.damaged {
            let at_tail = matches!(damage, crate::Corruption::Stamp { position, .. } if *position == self.tail);
            out.push(if at_tail {
                format!("the ring is stuck: {damage}")
            } else {
                format!("a frame ahead of the consumer is damaged: {damage}")
            });
        }
        out
    }

    /// The ring position whose frame slot `index` holds or last held,
    /// relative to this snapshot's `head`, and the slot's state.
    pub fn slot_state(&self, index: u32) -> (SlotState, Option<u64>) {
        if self.slot_count == 0 || index >= self.slot_count {
            return (SlotState::Free, None);
        }
        let Some(pos) = last_position(self.head, index, self.slot_count) else {
            return (SlotState::Free, None);
        };
        let state = if pos < self.tail {
            SlotState::Consumed
        } else {
            SlotState::Pending
        };
        (state, Some(pos))
    }
}

/// The last ring position below `head` that lands in slot `index` of a
/// ring of `slot_count` slots, or `None` if no position below `head` does.
fn last_position(head: u64, index: u32, slot_count: u32) -> Option<u64> {
    let index = u64::from(index);
    (head > index).then(|| head - 1 - (head - 1 - index) % u64::from(slot_count))
}

/// Is the object at the name still the one we map?
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameStatus {
    /// The name leads to our object.
    Same,
    /// The name leads to another object (re-created).
    Replaced,
    /// Nothing has the name.
    Unlinked,
}

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

/// Whether the process a role's line names can be proven to hold the role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HolderCheck {
    /// No live process holds the role lock.
    NotHeld,
    /// The role lock is held, and the pid, pid namespace and start time in
    /// the line match a process in our pid namespace right now.
    Verified {
        /// Its pid.
        pid: u32,
    },
    /// The holder lives in another pid namespace (another container): its
    /// pid means nothing here.
    OtherNamespace {
        /// The pid in its own namespace.
        pid: u32,
    },
    /// The line does not name its holder completely (pid, pid namespace or
    /// start time missing), so no process can be proven to be it.
    Unnamed,
    /// The process with that pid here is not the holder.
    NotTheHolder {
        /// The pid the line gives.
        pid: u32,
        /// Why not: gone, or a process started at another time.
        why: String,
    },
    /// The kernel would not say (no lock test, no `/proc`).
    Unknown,
}

impl std::fmt::Display for HolderCheck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HolderCheck::NotHeld => write!(f, "no live process holds the role"),
            HolderCheck::Verified { pid } => write!(f, "pid {pid} holds the role"),
            HolderCheck::OtherNamespace { pid } => write!(
                f,
                "the holder runs in another pid namespace (another container): pid {pid} is its pid there, not here"
            ),
            HolderCheck::Unnamed => write!(
                f,
                "the holder's line does not name it completely (pid, pid namespace, start time)"
            ),
            HolderCheck::NotTheHolder { pid, why } => {
                write!(f, "pid {pid} here is not the role holder: {why}")
            }
            HolderCheck::Unknown => write!(f, "the kernel would not say who holds the role"),
        }
    }
}

/// Why [`Observer::signal_holder`] sent nothing.
#[derive(Debug, thiserror::Error)]
pub enum SignalRefused {
    /// No process could be proven to hold the role.
    #[error("{0}")]
    Unproven(HolderCheck),
    /// The holder belongs to another user than the segment's owner.
    #[error("pid {pid} runs as uid {uid}, but the segment belongs to uid {owner}; Forge signals only the owner's processes")]
    OtherUser {
        /// The holder's pid.
        pid: u32,
        /// Its uid.
        uid: u32,
        /// The segment file's owner.
        owner: u32,
    },
    /// The kernel refused the signal.
    #[error("signalling pid {pid} failed: {source}")]
    Failed {
        /// The holder's pid.
        pid: u32,
        /// The error.
        source: std::io::Error,
    },
}

/// Most positions [`Snapshot::damaged`] checks per snapshot (all of them in
/// rings of up to this many slots).
pub const DAMAGE_SCAN: u64 = 4096;

/// A read-only attachment to a segment.
pub struct Observer {
    name: String,
    file: File,
    owner_uid: u32,
    // Declared before `map`: it is unregistered before the unmapping.
    guard: Option<fault_guard::Registration>,
    map: memmap2::Mmap,
    len: usize,
    slot_count: u32,
    session: u64,
    inode: (u64, u64),
    owner_warning: Option<String>,
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Observer")
            .field("name", &self.name)
            .field("len", &self.len)
            .field("session", &format_args!("{:#018x}", self.session))
            .finish()
    }
}

impl Observer {
    /// Opens `name` read-only, waiting up to `init_wait` while it initializes.
    /// Retired segments are refused: inspectors attach to the live one.
    pub fn open(name: &str, init_wait: Duration) -> Result<Observer, SegmentError> {
        validate_name(name)?;
        let start = Instant::now();
        loop {
            match Self::open_once(name) {
                Err(SegmentError::Initializing { init_pid, .. }) if start.elapsed() < init_wait => {
                    let _ = init_pid;
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(SegmentError::Initializing { init_pid, .. }) => {
                    return Err(SegmentError::Initializing {
                        name: name.to_owned(),
                        waited_ms: start.elapsed().as_millis() as u64,
                        init_pid,
                    })
                }
                other => return other,
            }
        }
    }

    fn open_once(name: &str) -> Result<Observer, SegmentError> {
        let file = open_read_only_file(name)?;
        let meta = FileFacts::of(name, &file)?;
        check_header_fits(name, meta.size)?;
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
            // SAFETY: page-aligned, HEADER_SIZE long; Header is all atomics
            // and padding; only loads are made through it.
            let header = unsafe { &*header_map.as_ptr().cast::<Header>() };
            let geometry = validate(name, header, meta.size, false);
            if guard
                .as_ref()
                .is_some_and(fault_guard::Registration::faulted)
            {
                return Err(SegmentError::TooShort {
                    name: name.to_owned(),
                    found: file.metadata().map_or(0, |m| m.len()),
                    expected: meta.size,
                });
            }
            geometry?;
        }
        let len = meta.size as usize;
        // SAFETY: a read-only shared mapping of a file of `len` bytes, which
        // validate() just found equal to the size its header declares. It
        // may change under us (other processes write it) and may be
        // truncated; we only read it through atomics, after re-checking size.
        let map = unsafe { memmap2::MmapOptions::new().len(len).map(&file) }.map_err(map_io)?;
        let observer = Observer {
            name: name.to_owned(),
            owner_uid: meta.uid,
            file,
            guard: fault_guard::register(map.as_ptr(), map.len()),
            len: map.len(),
            map,
            slot_count: 0,
            session: 0,
            inode: (meta.dev, meta.ino),
            owner_warning: meta.owner_warning(name),
        };
        let geometry = validate(name, observer.header(), meta.size, false);
        if observer.faulted() {
            // Truncated while we read the header: what we read was zeros.
            return Err(SegmentError::TooShort {
                name: name.to_owned(),
                found: observer.file.metadata().map_or(0, |m| m.len()),
                expected: meta.size,
            });
        }
        let geometry = geometry?;
        Ok(Observer {
            slot_count: geometry.slot_count,
            session: geometry.session,
            ..observer
        })
    }

    fn header(&self) -> &Header {
        debug_assert!(self.len >= HEADER_SIZE);
        // SAFETY: page-aligned, at least HEADER_SIZE long (checked at open);
        // Header is all atomics and padding. Only loads are made through it;
        // the mapping is PROT_READ, so a store would fault, not corrupt.
        unsafe { &*self.map.as_ptr().cast::<Header>() }
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
        self.session
    }

    /// Slots in the ring.
    pub fn slot_count(&self) -> u32 {
        self.slot_count
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
        name_status(&self.name, self.inode)
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

    /// Copies every header field. `tail` is read before `head`, so
    /// `head >= tail` up to the producer's publish batch.
    pub fn snapshot(&self) -> Result<Snapshot, ObserveError> {
        self.check_size()?;
        let h = self.header();
        let id = &h.identity;
        // SYNC: pairs with the Release store of state in create / retire.
        let state = id.state.load(Ordering::Acquire);
        // SYNC: pairs with the Release store of tail in `Consumer::flush`;
        // read before head so that head >= tail up to the publish batch.
        let tail = h.consumer.index.load(Ordering::Acquire);
        let mut consumer = SideSnapshot::read(&h.consumer);
        let mut producer = SideSnapshot::read(&h.producer);
        // SYNC: pairs with the Release store of head in `Producer::publish`.
        let head = h.producer.index.load(Ordering::Acquire);
        let damaged = self.damaged_between(tail, head);
        producer.lock_held = role_locked(&self.file, Side::Producer);
        consumer.lock_held = role_locked(&self.file, Side::Consumer);
        let lat = &h.latency;
        let latency = LatencySnapshot {
            count: lat.count.load(Ordering::Relaxed),
            sum_ns: lat.sum_ns.load(Ordering::Relaxed),
            max_ns: lat.max_ns.load(Ordering::Relaxed),
            overflow: lat.overflow.load(Ordering::Relaxed),
            buckets: lat
                .buckets
                .iter()
                .map(|b| b.load(Ordering::Relaxed))
                .collect(),
        };
        Ok(Snapshot {
            name: self.name.clone(),
            file_size: self.len as u64,
            magic: id.magic.load(Ordering::Relaxed),
            layout_version: id.layout_version.load(Ordering::Relaxed),
            header_size: id.header_size.load(Ordering::Relaxed),
            slot_size: id.slot_size.load(Ordering::Relaxed),
            slot_count: self.slot_count,
            segment_size: id.segment_size.load(Ordering::Relaxed),
            payload_capacity: id.payload_capacity.load(Ordering::Relaxed),
            session_id: id.session_id.load(Ordering::Relaxed),
            state: SegmentState::from_code(state),
            successor_session: id.successor_session.load(Ordering::Relaxed),
            init_pid: id.init_pid.load(Ordering::Relaxed),
            created_unix_ns: id.created_unix_ns.load(Ordering::Relaxed),
            created_mono_ns: id.created_mono_ns.load(Ordering::Relaxed),
            producer,
            consumer,
            latency,
            head,
            tail,
            damaged,
            taken_mono_ns: monotonic_ns(),
        })
        // A truncation during the loads above makes them read zeros.
        .and_then(|snap| self.check_size().map(|()| snap))
    }

    /// The first position from `tail` on, below `head` (loaded after
    /// `tail`, with Acquire), whose slot lacks its stamp. The producer
    /// stores each word before a head that covers it, so such a slot was
    /// damaged — unless the consumer released it meanwhile and the producer
    /// rewrote it for the next lap, which is why only positions at or past
    /// `tail` as re-read after the word loads are reported.
    fn damaged_between(&self, tail: u64, head: u64) -> Option<crate::Corruption> {
        let n = u64::from(self.slot_count);
        let past = head.wrapping_sub(tail) as i64;
        if n == 0 || past <= 0 || past as u64 > n {
            return None;
        }
        let shift = self.slot_count.trailing_zeros();
        let mut first_bad = None;
        for k in 0..(past as u64).min(DAMAGE_SCAN) {
            let pos = tail.wrapping_add(k);
            let index = (pos & (n - 1)) as u32;
            // SYNC: pairs with the Release store of the slot word in
            // `SlotWriter::commit`, ordered before the head store we acquired.
            let found = unpack_word(self.word(slot_offset(index)).load(Ordering::Acquire)).2;
            let expected = stamp_for(pos, shift);
            if found != expected {
                first_bad = Some((pos, index, expected, found));
                break;
            }
        }
        let (pos, index, expected, found) = first_bad?;
        // SYNC: pairs with the Release store of tail in `Consumer::flush`.
        let tail_now = self.header().consumer.index.load(Ordering::Acquire);
        (pos.wrapping_sub(tail_now) as i64 >= 0).then_some(crate::Corruption::Stamp {
            position: pos,
            slot: u64::from(index),
            expected,
            found,
            head,
        })
    }

    fn word(&self, off: usize) -> &AtomicU64 {
        debug_assert!(off % 8 == 0 && off + 8 <= self.len);
        // SAFETY: `off` is 8-aligned (header and slot sizes are multiples of
        // 8) and inside the mapping (validated geometry).
        unsafe { &*self.map.as_ptr().add(off).cast::<AtomicU64>() }
    }

    /// Can the process `side`'s line names be proven to hold the role? The
    /// kernel's role lock must be held, and a process with the line's pid,
    /// pid namespace and start time must exist in our pid namespace. Only
    /// then is `/proc/PID` about the holder.
    pub fn verify_holder(&self, side: Side) -> HolderCheck {
        self.prove_holder(side).0
    }

    fn prove_holder(&self, side: Side) -> (HolderCheck, Option<Pidfd>) {
        match role_locked(&self.file, side) {
            Some(false) => return (HolderCheck::NotHeld, None),
            None => return (HolderCheck::Unknown, None),
            Some(true) => {}
        }
        let line = self.header().side(side);
        let claimed = Identity {
            pid: line.pid.load(Ordering::Relaxed),
            pidns: line.pidns.load(Ordering::Relaxed),
            start_ticks: line.start_ticks.load(Ordering::Relaxed),
        };
        if !claimed.is_complete() {
            return (HolderCheck::Unnamed, None);
        }
        match crate::process::own_pid_namespace() {
            None => return (HolderCheck::Unknown, None),
            Some(ours) if ours != claimed.pidns => {
                return (HolderCheck::OtherNamespace { pid: claimed.pid }, None)
            }
            Some(_) => {}
        }
        let pid = claimed.pid;
        let not = |why: String| (HolderCheck::NotTheHolder { pid, why }, None);
        // Opened before /proc is read: if the process it names is still
        // alive after the reads (checked below), the pid was not reused in
        // between, so /proc described that very process.
        let pidfd = match Pidfd::open(pid) {
            Ok(fd) => fd,
            Err(e) => return not(format!("no such process ({e})")),
        };
        let Some(stat) = crate::process::stat(pid) else {
            return not("it exited".into());
        };
        if stat.start_ticks != claimed.start_ticks {
            return not(format!(
                "it started at tick {}, the holder at tick {}: the pid was reused",
                stat.start_ticks, claimed.start_ticks
            ));
        }
        if std::fs::metadata(format!("/proc/{pid}/ns/pid"))
            .ok()
            .map(|m| std::os::unix::fs::MetadataExt::ino(&m))
            != Some(claimed.pidns)
        {
            return not("it lives in another pid namespace".into());
        }
        if pidfd.send(0).is_err() {
            return not("it exited".into());
        }
        (HolderCheck::Verified { pid }, Some(pidfd))
    }

    /// Sends `signal` to the process proven to hold `side` (see
    /// [`verify_holder`](Self::verify_holder)), through a pidfd so that it
    /// cannot reach a process that took its pid since, and only when that
    /// process belongs to the user who owns the segment: whoever can write a
    /// segment can put any pid in it. Returns the pid signalled.
    pub fn signal_holder(&self, side: Side, signal: i32) -> Result<u32, SignalRefused> {
        let (check, pidfd) = self.prove_holder(side);
        let (HolderCheck::Verified { pid }, Some(pidfd)) = (&check, pidfd) else {
            return Err(SignalRefused::Unproven(check));
        };
        let pid = *pid;
        let status = crate::process::status(pid);
        let uids = status.as_ref().map(|s| (s.ruid, s.euid));
        let owner = self.owner_uid;
        match uids {
            Some((Some(r), Some(e))) if r == owner && e == owner => {}
            Some((Some(r), Some(e))) => {
                return Err(SignalRefused::OtherUser {
                    pid,
                    uid: if e != owner { e } else { r },
                    owner,
                })
            }
            _ => {
                return Err(SignalRefused::Unproven(HolderCheck::NotTheHolder {
                    pid,
                    why: "its owner cannot be read".into(),
                }))
            }
        }
        pidfd
            .send(signal)
            .map(|()| pid)
            .map_err(|source| SignalRefused::Failed { pid, source })
    }

    /// Copies slot `index` out with atomic word loads, then checks whether
    /// the producer may have overwritten it meanwhile (then `torn` is set).
    pub fn read_slot(&self, index: u32) -> Result<SlotCopy, ObserveError> {
        self.read_slot_prefix(index, PAYLOAD_CAPACITY)
    }

    /// Like [`read_slot`](Self::read_slot), copying at most `max_bytes` of
    /// the payload (for example just the 32-byte frame header for a list).
    pub fn read_slot_prefix(&self, index: u32, max_bytes: usize) -> Result<SlotCopy, ObserveError> {
        self.check_size()?;
        let index = index % self.slot_count.max(1);
        let h = self.header();
        let base = slot_offset(index);
        let word_at = |off: usize| self.word(off);
        // SYNC: pairs with the Release store of the slot word in
        // `SlotWriter::commit`: the payload written before it is visible.
        let w1 = word_at(base).load(Ordering::Acquire);
        let (len, flags, stamp) = unpack_word(w1);
        let copy_len = usize::from(len).min(PAYLOAD_CAPACITY).min(max_bytes);
        let mut bytes = Vec::with_capacity(copy_len.next_multiple_of(8));
        for k in 0..copy_len.div_ceil(8) {
            bytes.extend_from_slice(
                &word_at(base + 8 + 8 * k)
                    .load(Ordering::Relaxed)
                    .to_le_bytes(),
            );
        }
        bytes.truncate(copy_len);
        // Orders the payload loads above before the re-checks below.
        fence(Ordering::Acquire);
        let w2 = word_at(base).load(Ordering::Relaxed);
        let tail = h.consumer.index.load(Ordering::Relaxed);
        let head = h.producer.index.load(Ordering::Relaxed);
        let batch = u64::from(h.producer.batch.load(Ordering::Relaxed).max(1));

        let n = u64::from(self.slot_count);
        let shift = self.slot_count.trailing_zeros();
        // Candidate positions for this slot: the last one below head, and the
        // one a lap later (published but not yet counted in a batched head).
        let below = last_position(head, index, self.slot_count);
        let candidates = [below, below.map(|p| p + n).or(Some(u64::from(index)))];
        let position = candidates
            .into_iter()
            .flatten()
            .find(|&p| stamp != 0 && stamp_for(p, shift) == stamp);
        let state = match position {
            None => SlotState::Free,
            Some(p) if p < tail => SlotState::Consumed,
            Some(_) => SlotState::Pending,
        };
        // The producer may be writing position p + n only once the consumer
        // released p (tail > p) and its real head reached p + n, which is at
        // most head + batch - 1.
        let overwritable = position.is_some_and(|p| {
            let released = (tail.wrapping_sub(p) as i64) > 0;
            let next_lap_ahead_of_head = p.wrapping_add(n).wrapping_sub(head) as i64;
            released && next_lap_ahead_of_head < batch as i64
        });
        // A truncation during the copy makes it read zeros.
        self.check_size()?;
        Ok(SlotCopy {
            index,
            position,
            state,
            len,
            flags,
            stamp,
            bytes,
            changed: w1 != w2,
            overwritable,
            torn: w1 != w2 || overwritable,
        })
    }
}

pub mod fault_guard {
    //! Turns a SIGBUS in an observer's mapping into a poisoned observer.
    //!
    //! Loads from a shared mapping whose file shrank under it raise SIGBUS.
    //! Observers check the size before and after every sample, but the file
    //! may shrink in between. So each observer registers its mapping here,
    //! and the process-wide handler, for a fault inside a registered range:
    //!
    //! ```text
    //!  load ──SIGBUS──▶ on_sigbus: addr in a registered range?
    //!                     yes: mmap(MAP_FIXED | MAP_ANONYMOUS, PROT_READ) one
    //!                          zero page over the faulting page, mark the
    //!                          range faulted, return: the load re-runs, reads 0
    //!                     no:  hand the signal on (the previous handler, or
    //!                          the default action: the process dies as before)
    //! ```
    //!
    //! The handler only loads atomics and calls `mmap` and `sigaction`, both
    //! plain system calls, so it is async-signal-safe in practice on Linux.
    //! It is installed once, on the first registration, and chains to
    //! whatever handler was there before.

    use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
    use std::sync::{Once, OnceLock};

    /// Mappings that can be guarded at once; more observers than this go
    /// unguarded (still protected by the size checks).
    const SLOTS: usize = 64;
    const FREE: u8 = 0;
    const CLAIMED: u8 = 1;
    const ACTIVE: u8 = 2;

    struct Range {
        state: AtomicU8,
        start: AtomicUsize,
        len: AtomicUsize,
        faulted: AtomicBool,
    }

    #[allow(clippy::declare_interior_mutable_const)]
    const EMPTY: Range = Range {
        state: AtomicU8::new(FREE),
        start: AtomicUsize::new(0),
        len: AtomicUsize::new(0),
        faulted: AtomicBool::new(false),
    };
    static RANGES: [Range; SLOTS] = [EMPTY; SLOTS];
    static PAGE: AtomicUsize = AtomicUsize::new(4096);
    static INSTALL: Once = Once::new();
    static PREVIOUS: OnceLock<libc::sigaction> = OnceLock::new();
    static INSTALLED: AtomicBool = AtomicBool::new(false);

    /// A registered mapping; unregistered on drop (before the unmapping).
    #[derive(Debug)]
    pub struct Registration(usize);

    impl Registration {
        /// Did a load from this mapping fault?
        pub fn faulted(&self) -> bool {
            // SYNC: pairs with the Release store of faulted in `on_sigbus`.
            RANGES[self.0].faulted.load(Ordering::Acquire)
        }
    }

    impl Drop for Registration {
        fn drop(&mut self) {
            // SYNC: pairs with the Acquire load of state in `on_sigbus`.
            RANGES[self.0].state.store(FREE, Ordering::Release);
        }
    }

    /// Guards `len` bytes from `start`. `None` if the handler could not be
    /// installed or every slot is taken.
    pub fn register(start: *const u8, len: usize) -> Option<Registration> {
        install();
        // SYNC: pairs with the Release store of INSTALLED in `install`.
        if !INSTALLED.load(Ordering::Acquire) {
            return None;
        }
        let i = RANGES.iter().position(|r| {
            // SYNC: pairs with the Release store of FREE in
            // `Registration::drop`: the previous user is done with the slot.
            r.state
                .compare_exchange(FREE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        })?;
        let r = &RANGES[i];
        r.start.store(start as usize, Ordering::Relaxed);
        r.len.store(len, Ordering::Relaxed);
        r.faulted.store(false, Ordering::Relaxed);
        // SYNC: pairs with the Acquire load of state in `on_sigbus`: the
        // handler sees start, len and faulted as written above.
        r.state.store(ACTIVE, Ordering::Release);
        Some(Registration(i))
    }

    /// Is the SIGBUS guard in place in this process?
    pub fn installed() -> bool {
        // SYNC: pairs with the Release store of INSTALLED in `install`.
        INSTALLED.load(Ordering::Acquire)
    }

    fn install() {
        INSTALL.call_once(|| {
            // SAFETY: sysconf has no preconditions.
            let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
            if page > 0 {
                PAGE.store(page as usize, Ordering::Relaxed);
            }
            // SAFETY: an all-zero sigaction is a valid value to fill in.
            let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
            action.sa_sigaction = on_sigbus as *const () as usize;
            action.sa_flags = libc::SA_SIGINFO | libc::SA_ONSTACK;
            // SAFETY: a zeroed sigaction to receive the old disposition.
            let mut previous: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: `action.sa_mask` is a valid sigset_t to empty.
            unsafe { libc::sigemptyset(&mut action.sa_mask) };
            // Read the old disposition first, so the handler can chain to it
            // from its first run.
            // SAFETY: a null new action only queries; `previous` is writable.
            if unsafe { libc::sigaction(libc::SIGBUS, std::ptr::null(), &mut previous) } != 0 {
                return;
            }
            let _ = PREVIOUS.set(previous);
            // SAFETY: `on_sigbus` is async-signal-safe (see the module doc)
            // and has the SA_SIGINFO signature.
            if unsafe { libc::sigaction(libc::SIGBUS, &action, std::ptr::null_mut()) } == 0 {
                // SYNC: pairs with the Acquire loads in `register` and
                // `installed`: PREVIOUS is set before the guard is in use.
                INSTALLED.store(true, Ordering::Release);
            }
        });
    }

    extern "C" fn on_sigbus(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
        let addr = unsafe { (*info).si_addr() } as usize;
        let page = PAGE.load(Ordering::Relaxed);
        for r in &RANGES {
            // SYNC: pairs with the Release stores of state in `register`
            // and `Registration::drop`.
            if r.state.load(Ordering::Acquire) != ACTIVE {
                continue;
            }
            let (start, len) = (
                r.start.load(Ordering::Relaxed),
                r.len.load(Ordering::Relaxed),
            );
            if addr < start || addr - start >= len {
                continue;
            }
            let base = addr & !(page - 1);
            // SAFETY: `base` is a page inside a mapping this process owns
            // (registered, so not yet unmapped); replacing it with a private
            // read-only zero page changes what the observer reads, never
            // what it may write (it maps PROT_READ), and nothing else.
            let p = unsafe {
                libc::mmap(
                    base as *mut libc::c_void,
                    page,
                    libc::PROT_READ,
                    libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_FIXED,
                    -1,
                    0,
                )
            };
            if p != libc::MAP_FAILED {
                // SYNC: pairs with the Acquire load in `Registration::faulted`.
                r.faulted.store(true, Ordering::Release);
                return;
            }
        }
        chain(sig, info, ctx);
    }

    /// Hands a SIGBUS that is not ours to whoever had it before us.
    fn chain(sig: libc::c_int, info: *mut libc::siginfo_t, ctx: *mut libc::c_void) {
        let previous = PREVIOUS.get();
        match previous.map(|p| (p.sa_sigaction, p.sa_flags)) {
            Some((handler, flags)) if handler != libc::SIG_DFL && handler != libc::SIG_IGN => {
                if flags & libc::SA_SIGINFO != 0 {
                    // SAFETY: the previous SA_SIGINFO handler has this type.
                    let f: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
                        unsafe { std::mem::transmute(handler) };
                    f(sig, info, ctx);
                } else {
                    // SAFETY: the previous plain handler has this type.
                    let f: extern "C" fn(libc::c_int) = unsafe { std::mem::transmute(handler) };
                    f(sig);
                }
            }
            _ => {
                // The default action: returning re-runs the faulting load,
                // which now kills the process with SIGBUS as if we were not
                // here.
                // SAFETY: an all-zero sigaction is SIG_DFL with no flags.
                let mut dfl: libc::sigaction = unsafe { std::mem::zeroed() };
                dfl.sa_sigaction = libc::SIG_DFL;
                // SAFETY: sigaction is async-signal-safe; `dfl` is valid.
                unsafe { libc::sigaction(libc::SIGBUS, &dfl, std::ptr::null_mut()) };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hist(samples: &[u64]) -> LatencySnapshot {
        let mut h = LatencySnapshot::default();
        for &v in samples {
            match bucket_of(v) {
                Some(i) => h.buckets[i] += 1,
                None => h.overflow += 1,
            }
            h.count += 1;
            h.sum_ns += v;
            h.max_ns = h.max_ns.max(v);
        }
        h
    }

    #[test]
    fn quantiles_land_within_a_bucket_of_the_truth() {
        let samples: Vec<u64> = (1..=10_000).map(|i| i * 100).collect();
        let h = hist(&samples);
        for (q, truth) in [(0.5, 500_000f64), (0.99, 990_000.0), (0.999, 999_000.0)] {
            let got = h.quantile(q).unwrap() as f64;
            assert!(
                (got - truth).abs() / truth < 0.035,
                "q{q}: {got} vs {truth}"
            );
        }
        assert_eq!(LatencySnapshot::default().quantile(0.5), None);
    }

    #[test]
    fn a_window_reports_its_own_max_not_the_all_time_one() {
        let early = hist(&[5_000_000, 100]);
        let mut later = early.clone();
        for v in [200u64, 300] {
            later.buckets[bucket_of(v).unwrap()] += 1;
            later.count += 1;
            later.sum_ns += v;
        }
        let window = later.since(&early);
        assert_eq!(window.count, 2);
        assert!(
            window.max_ns >= 300 && window.max_ns < 320,
            "{}",
            window.max_ns
        );
    }
}
