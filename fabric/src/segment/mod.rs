//! Segments: one POSIX shared-memory object per ring, mapped read-write by
//! forge-init and the daemons.
//!
//! ```text
//!  segment/
//!    lifecycle  create (retire, unlink, create exclusively), open, unlink
//!    validate   names, sizes, the identity line, session checks
//!    role       holding a role: its kernel lock and its line
//!    sys        the system calls
//! ```
//!
//! No reference into a mapping is formed before the file is known to be at
//! least a header long and its header has been validated.

use std::fs::File;
use std::ptr::NonNull;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;

use crate::error::{RoleError, SessionError};
use crate::layout::*;
use crate::ring::{Consumer, Producer, RingRef};
use crate::sync::Ordering;
use crate::vocab::Role;

mod lifecycle;
pub(crate) mod role;
pub(crate) mod sys;
pub(crate) mod validate;

pub use crate::error::HeaderProblem;
pub use lifecycle::{unlink, CreateOptions, Replaced, INIT_LOCK_WAIT};
pub use sys::{shm_path, NameStatus};
use validate::Geometry;
pub use validate::{validate_header_bytes, validate_name, IdentitySnapshot};

/// Does a process with this pid exist in our pid namespace? Pids that
/// cannot be real are dead. Who holds a role is the role lock's answer, not
/// this: see [`Segment::live_holder`].
pub fn pid_alive(pid: u32) -> bool {
    crate::process::pid_alive(pid)
}

/// A mapping of a whole segment file. Owns the memory the ring points into,
/// and the open file the role locks are taken on.
pub(crate) struct Mapping {
    map: memmap2::MmapRaw,
    len: usize,
    file: File,
    /// Roles held through this mapping by this process: OFD locks taken on
    /// one open file do not conflict with each other, so a second claim
    /// through the same segment handle is refused here.
    claimed: [AtomicBool; 2],
}

impl Mapping {
    fn new(map: memmap2::MmapRaw, len: usize, file: File) -> Self {
        Mapping {
            map,
            len,
            file,
            claimed: Default::default(),
        }
    }

    fn header(&self) -> &Header {
        debug_assert!(self.len >= HEADER_SIZE);
        // SAFETY: the mapping is page-aligned, at least HEADER_SIZE long, and
        // every field of Header is an atomic or padding, valid for any bytes.
        unsafe { &*self.map.as_ptr().cast::<Header>() }
    }
}

/// What a role holder says about itself in its line, beyond its pid.
#[derive(Debug, Clone, Default)]
pub struct Claim {
    /// CPU core it pinned itself to, recorded for inspectors.
    pub core: Option<u32>,
    /// Program name for inspectors (at most 16 bytes are kept); empty takes
    /// the name this process was started as.
    pub program: String,
    /// `HOLDER_*` bits.
    pub flags: u32,
}

/// A segment mapped read-write, for daemons and forge-init.
pub struct Segment {
    name: String,
    map: Arc<Mapping>,
    geometry: Geometry,
    file_size: u64,
    file_id: (u64, u64),
    owner_warning: Option<String>,
}

impl std::os::fd::AsRawFd for Segment {
    /// The descriptor the segment is open on (for `fstat` from a signal
    /// handler; the segment keeps it open while it lives).
    fn as_raw_fd(&self) -> std::os::fd::RawFd {
        self.map.file.as_raw_fd()
    }
}

impl std::fmt::Debug for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Segment")
            .field("name", &self.name)
            .field("session", &format_args!("{:#018x}", self.geometry.session))
            .field("slot_count", &self.geometry.slot_count)
            .field("payload_capacity", &self.geometry.payload_capacity)
            .finish()
    }
}

impl Header {
    /// The line `role` writes.
    pub fn side(&self, role: Role) -> &SideLine {
        match role {
            Role::Producer => &self.producer,
            Role::Consumer => &self.consumer,
        }
    }
}

impl Segment {
    /// The segment's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The session this handle was opened in.
    pub fn session_id(&self) -> u64 {
        self.geometry.session
    }

    /// Number of slots.
    pub fn slot_count(&self) -> u32 {
        self.geometry.slot_count
    }

    /// Largest frame, in bytes, the slots hold.
    pub fn payload_capacity(&self) -> usize {
        self.geometry.payload_capacity
    }

    /// The header's layout version (see
    /// [`crate::layout::READABLE_LAYOUT_VERSIONS`]).
    pub fn layout_version(&self) -> u32 {
        self.geometry.layout_version
    }

    /// Bytes mapped: the segment's size.
    pub fn size(&self) -> u64 {
        self.file_size
    }

    /// Set when the object is owned by another user or writable by others:
    /// say it to the user, then go on (the header was validated all the same).
    pub fn owner_warning(&self) -> Option<&str> {
        self.owner_warning.as_deref()
    }

    /// Is the name still ours, replaced by another object, or gone? One
    /// `stat`: call it off the per-message path (the daemons' watch thread).
    pub fn name_status(&self) -> NameStatus {
        sys::name_status(&self.name, self.file_id)
    }

    /// The object's size now, if the name still leads to it (a truncation
    /// shows here before a touch of the lost pages raises SIGBUS).
    pub fn size_now(&self) -> Option<u64> {
        sys::size_now(&self.name, self.file_id)
    }

    /// Where this process maps the segment: start address and length. For
    /// fault reports (a SIGBUS inside this range means the object shrank).
    pub fn mapped_range(&self) -> (usize, usize) {
        (self.map.map.as_ptr() as usize, self.map.len)
    }

    /// `head` and `tail` now. `tail` is read first, with Acquire (pairs with
    /// the consumer's Release store): every frame below it was read. `head`
    /// may lag the published frames by the producer's publish batch.
    pub fn indices(&self) -> (u64, u64) {
        let h = self.map.header();
        let tail = h.consumer.index.load(Ordering::Acquire);
        // SYNC: pairs with the Release store of head in `Producer::publish`.
        let head = h.producer.index.load(Ordering::Acquire);
        (head, tail)
    }

    /// The session the last relayed frames came from, as the producer's line
    /// says (see [`crate::Producer::set_relay_session`]); 0 when not said.
    pub fn relay_session(&self) -> u64 {
        // SYNC: a lone value, written before the writer dropped its role;
        // the kernel's lock hand-over orders it before our role claim.
        self.map
            .header()
            .producer
            .relay_session
            .load(Ordering::Relaxed)
    }

    /// Low level: the shared header itself, every field a public atomic. A
    /// store through it goes behind the protocol's back and can lose or
    /// invent frames; it exists for tests and tools that must write a header
    /// as a damaged or hostile one would. Readers want
    /// [`crate::Observer::snapshot`].
    #[doc(hidden)]
    pub fn raw_header(&self) -> &Header {
        self.map.header()
    }

    /// A role held by a live process, if any, with the pid its header gives
    /// (in the holder's pid namespace). The kernel's role locks decide, so a
    /// holder in another container counts, and a dead holder whose pid was
    /// reused does not.
    pub fn live_holder(&self) -> Option<(Role, u32)> {
        Role::ALL
            .into_iter()
            .find(|&role| {
                self.map.claimed[role.index()].load(std::sync::atomic::Ordering::Relaxed)
                    || sys::role_locked(&self.map.file, role) == Some(true)
            })
            .map(|role| {
                let pid = self.map.header().side(role).pid.load(Ordering::Relaxed);
                (role, pid)
            })
    }

    /// `Ok` while the segment is live in the session we opened and its
    /// identity line is intact.
    pub fn check_session(&self) -> Result<(), SessionError> {
        validate::check_session(self.map.header(), &self.geometry)
    }

    fn ring(&self) -> RingRef {
        let base = self.map.map.as_mut_ptr();
        let header = self.map.header();
        RingRef {
            producer: NonNull::from(&header.producer),
            consumer: NonNull::from(&header.consumer),
            // SAFETY: validate() checked the file holds slot_count slots
            // of slot_size bytes after the header, and that many are mapped.
            slots: NonNull::new(unsafe { base.add(HEADER_SIZE) }).expect("mapping is non-null"),
            slot_size: slot_size(self.geometry.payload_capacity),
            payload_capacity: self.geometry.payload_capacity,
            mask: u64::from(self.geometry.slot_count) - 1,
            lap_shift: self.geometry.slot_count.trailing_zeros(),
            _keep: self.map.clone(),
        }
    }

    /// Takes the producer role. `core` is recorded for inspectors.
    pub fn producer(&self, core: Option<u32>) -> Result<Producer, RoleError> {
        self.producer_with(&Claim {
            core,
            ..Claim::default()
        })
    }

    /// Takes the producer role, saying who we are in its line. Refused while
    /// a live process holds it, and when the ring's indices or stamps are
    /// impossible ([`RoleError::Corrupt`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_fabric::{CreateOptions, Segment};
    ///
    /// let name = format!("/forge_doc_produce_{}", std::process::id());
    /// let (segment, _) = Segment::create(&name, &CreateOptions::default())?;
    /// let mut producer = segment.producer(None)?;
    /// // Zero copy: claim a slot, write in place, commit.
    /// let mut slot = producer.claim().expect("a fresh ring has room");
    /// slot.payload_mut()[..5].copy_from_slice(b"hello");
    /// assert_eq!(slot.commit(5)?, 0); // its ring position
    /// // One producer per segment.
    /// assert!(segment.producer(None).is_err());
    /// # drop(producer);
    /// segment.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn producer_with(&self, claim: &Claim) -> Result<Producer, RoleError> {
        let mut role = role::HeldRole::claim(self, Role::Producer)?;
        let mut producer = Producer::attach(self.ring())?;
        role.activate(claim);
        producer.set_role(role);
        Ok(producer)
    }

    /// Takes the consumer role. `core` is recorded for inspectors.
    pub fn consumer(&self, core: Option<u32>) -> Result<Consumer, RoleError> {
        self.consumer_with(&Claim {
            core,
            ..Claim::default()
        })
    }

    /// Takes the consumer role, saying who we are in its line. Refused while
    /// a live process holds it, and when the ring's indices or stamps are
    /// impossible ([`RoleError::Corrupt`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_fabric::{CreateOptions, Segment};
    ///
    /// let name = format!("/forge_doc_consume_{}", std::process::id());
    /// let (segment, _) = Segment::create(&name, &CreateOptions::default())?;
    /// let mut producer = segment.producer(None)?;
    /// let mut consumer = segment.consumer(None)?;
    /// producer.try_push(b"telemetry")?;
    /// // Zero copy: read in place, then release the slot to the producer.
    /// let frame = consumer.read()?.expect("one frame was pushed");
    /// assert_eq!(&*frame, b"telemetry");
    /// frame.release();
    /// assert!(consumer.read()?.is_none());
    /// # drop((producer, consumer));
    /// segment.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn consumer_with(&self, claim: &Claim) -> Result<Consumer, RoleError> {
        let mut role = role::HeldRole::claim(self, Role::Consumer)?;
        let mut consumer = Consumer::attach(self.ring())?;
        role.activate(claim);
        consumer.set_role(role);
        Ok(consumer)
    }
}
