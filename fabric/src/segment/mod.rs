//! Segments: one POSIX shared-memory object per ring, mapped read-write by
//! forge-init and the daemons.
//!
//! ```text
//!  segment/
//!    lifecycle  create, replace (retire, unlink, create), open, open_or_create
//!    mapping    the mapping a handle owns, and its file
//!    claim      Claim: how a role is taken (wait strategy, core, program)
//!    role       holding a role: its kernel lock and its line
//!    validate   names, sizes, the identity line, session checks
//!    sys        the system calls
//! ```
//!
//! No reference into a mapping is formed before the file is known to be at
//! least a header long and its header has been validated.

use std::ptr::NonNull;
use std::sync::Arc;

use crate::error::{RoleError, SessionError};
use crate::layout::*;
use crate::ring::{Consumer, Lease, Producer, RelayedProducer, RingRef};
use crate::sync::Ordering;
use crate::vocab::Role;

mod claim;
mod lifecycle;
pub(crate) mod locks;
mod mapping;
pub(crate) mod role;
pub(crate) mod sys;
pub(crate) mod validate;

pub use crate::error::HeaderProblem;
pub use claim::Claim;
pub use lifecycle::{unlink, CreateOptions, LiveHolders, Obtained, Replaced, INIT_LOCK_WAIT};
pub use locks::{role_locks_name, LockState, ROLE_LOCKS_SUFFIX};
use mapping::Mapping;
pub use sys::{shm_path, NameStatus};
use validate::Geometry;
pub use validate::{validate_header_bytes, validate_name, IdentitySnapshot, MAX_NAME_LEN};

/// Does a process with this pid exist in our pid namespace? Pids that
/// cannot be real are dead. Who holds a role is the role lock's answer, not
/// this: see [`Segment::live_holder`].
pub fn pid_alive(pid: u32) -> bool {
    crate::process::pid_alive(pid)
}

/// A segment mapped read-write, for daemons and forge-init.
///
/// # Examples
///
/// What a handle says about its segment, and who holds its roles:
///
/// ```
/// use forge_fabric::{CreateOptions, NameStatus, Role, Segment};
///
/// let name = format!("/forge_doc_segment_{}", std::process::id());
/// let opts = CreateOptions { slot_count: 16, payload_capacity: 56, ..CreateOptions::default() };
/// let segment = Segment::create(&name, &opts)?;
/// assert_eq!(segment.name(), name);
/// assert_eq!((segment.slot_count(), segment.payload_capacity()), (16, 56));
/// assert_eq!(segment.size(), 4096 + 16 * 64);
/// assert_eq!(segment.layout_version(), forge_fabric::layout::LAYOUT_VERSION);
/// assert_eq!(segment.name_status(), NameStatus::Same);
/// assert_eq!(segment.live_holder(), None);
/// let mut producer = segment.producer()?;
/// assert_eq!(segment.live_holder(), Some((Role::Producer, std::process::id())));
/// producer.write_from(b"x")?;
/// producer.flush_index();
/// assert_eq!(segment.indices(), (1, 0)); // (head, tail)
/// assert!(segment.check_session().is_ok());
/// # drop(producer);
/// segment.unlink()?;
/// assert_eq!(segment.name_status(), NameStatus::Unlinked);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
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
        // SYNC: pairs with the Release store of head in `Producer::store_head`.
        let head = h.producer.index.load(Ordering::Acquire);
        (head, tail)
    }

    /// The session the last relayed frames came from, as the producer's line
    /// says (see [`crate::RelayedProducer::set_origin`]); 0 when not said.
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
    /// reused does not. Only a write lock is a holder: a read lock (which a
    /// user who may only read a segment of an older layout can take) is not.
    pub fn live_holder(&self) -> Option<(Role, u32)> {
        Role::ALL
            .into_iter()
            .find(|&role| {
                self.map.claimed[role.index()].load(std::sync::atomic::Ordering::Relaxed)
                    || locks::state(self.map.lock_file(), role) == Some(LockState::Held)
            })
            .map(|role| {
                let pid = self.map.header().side(role).pid.load(Ordering::Relaxed);
                (role, pid)
            })
    }

    /// What `role`'s lock byte holds now (a write lock: a holder; read locks
    /// only: a squatter), `None` if the kernel would not say. Locks this
    /// handle holds are not seen.
    pub fn role_lock(&self, role: Role) -> Option<LockState> {
        locks::state(self.map.lock_file(), role)
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
            latency: Some(NonNull::from(&header.latency)),
            pace: Some(NonNull::from(&header.pace)),
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

    /// Takes the producer role with a default [`Claim`]: spinning when it
    /// waits, no core recorded. See [`producer_with`](Self::producer_with).
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_fabric::{CreateOptions, Segment};
    ///
    /// let name = format!("/forge_doc_produce_{}", std::process::id());
    /// let segment = Segment::create(&name, &CreateOptions::default())?;
    /// let mut producer = segment.producer()?;
    /// // Zero copy: lend the next slot, write in place, commit.
    /// let mut slot = producer.write_slot().expect("a fresh ring has room");
    /// slot.payload_mut()[..5].copy_from_slice(b"hello");
    /// assert_eq!(slot.commit(5)?, 0); // its ring position
    /// // One producer per segment.
    /// assert!(segment.producer().is_err());
    /// # drop(producer);
    /// segment.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn producer(&self) -> Result<Producer, RoleError> {
        self.producer_with(&Claim::new())
    }

    /// Takes the producer role as `claim` says: how it waits, and what its
    /// line tells inspectors. Refused while a live process holds the role
    /// ([`RoleError::Held`]), when the segment is no longer live in the
    /// session this handle opened ([`RoleError::Session`]), and when the
    /// ring's indices or stamps are impossible ([`RoleError::Corrupt`]).
    /// Dropping the producer releases the role.
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_fabric::{Claim, CreateOptions, Segment, WaitStrategy};
    ///
    /// let name = format!("/forge_doc_produce_with_{}", std::process::id());
    /// let segment = Segment::create(&name, &CreateOptions::default())?;
    /// let producer = segment.producer_with(&Claim::new().wait(WaitStrategy::Yield))?;
    /// assert_eq!(producer.wait_strategy(), WaitStrategy::Yield);
    /// # drop(producer);
    /// segment.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn producer_with(&self, claim: &Claim) -> Result<Producer, RoleError> {
        let mut role = role::HeldRole::claim(&self.map, self.geometry, Role::Producer)?;
        let producer = Producer::attach(self.ring(), claim.wait_strategy())?;
        role.activate(claim);
        Ok(producer.with_lease(Box::new(role)))
    }

    /// Takes the producer role for frames relayed from another ring (a
    /// bridge, a replay): the holder's line says `RELAYED`, and every frame
    /// it commits carries Forge's `RELAYED` flag. This is the only way to
    /// set that flag. The line's `relay_session` keeps what the last
    /// relaying holder left there ([`relay_session`](Self::relay_session):
    /// a restarted bridge reads whose sequence the ring's last frame
    /// carries) until [`RelayedProducer::set_origin`] says the origin.
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_fabric::{Claim, CreateOptions, Observer, Segment};
    /// use forge_fabric::layout::HOLDER_RELAYED;
    ///
    /// let name = format!("/forge_doc_relayed_{}", std::process::id());
    /// let segment = Segment::create(&name, &CreateOptions::default())?;
    /// let mut relay = segment.relayed_producer(&Claim::new())?;
    /// relay.set_origin(0x0123_4567);
    /// let snap = Observer::open(&name, std::time::Duration::ZERO)?.snapshot()?;
    /// assert_ne!(snap.producer.flags & HOLDER_RELAYED, 0);
    /// assert_eq!(snap.producer.relay_session, 0x0123_4567);
    /// # drop(relay);
    /// segment.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn relayed_producer(&self, claim: &Claim) -> Result<RelayedProducer, RoleError> {
        let producer = self.producer_with(&claim.clone().relayed())?;
        Ok(RelayedProducer::new(producer))
    }

    /// Takes the consumer role with a default [`Claim`]: spinning when it
    /// waits, no core recorded. See [`consumer_with`](Self::consumer_with).
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_fabric::{CreateOptions, Segment};
    ///
    /// let name = format!("/forge_doc_consume_{}", std::process::id());
    /// let segment = Segment::create(&name, &CreateOptions::default())?;
    /// let mut producer = segment.producer()?;
    /// let mut consumer = segment.consumer()?;
    /// producer.write_from(b"telemetry")?;
    /// // Zero copy: read in place, then release the slot to the producer.
    /// let frame = consumer.read_slot()?.expect("one frame was written");
    /// assert_eq!(&*frame, b"telemetry");
    /// frame.release();
    /// assert!(consumer.read_slot()?.is_none());
    /// # drop((producer, consumer));
    /// segment.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn consumer(&self) -> Result<Consumer, RoleError> {
        self.consumer_with(&Claim::new())
    }

    /// Takes the consumer role as `claim` says. Refused as
    /// [`producer_with`](Self::producer_with) is. Dropping the consumer
    /// releases the role.
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_fabric::{Claim, CreateOptions, Segment, WaitStrategy};
    ///
    /// let name = format!("/forge_doc_consume_with_{}", std::process::id());
    /// let segment = Segment::create(&name, &CreateOptions::default())?;
    /// let consumer = segment.consumer_with(&Claim::new().wait(WaitStrategy::Park))?;
    /// assert_eq!(consumer.wait_strategy(), WaitStrategy::Park);
    /// # drop(consumer);
    /// segment.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn consumer_with(&self, claim: &Claim) -> Result<Consumer, RoleError> {
        let mut role = role::HeldRole::claim(&self.map, self.geometry, Role::Consumer)?;
        let consumer = Consumer::attach(self.ring(), claim.wait_strategy())?;
        role.activate(claim);
        Ok(consumer.with_lease(Box::new(role)))
    }
}

/// A held role is what a segment's ring endpoint leases: dropping the
/// endpoint drops the role, which releases its lock.
impl Lease for role::HeldRole {
    fn session(&self) -> u64 {
        role::HeldRole::session(self)
    }

    fn check_session(&self) -> Result<(), SessionError> {
        role::HeldRole::check_session(self)
    }

    fn heartbeat(&self) {
        role::HeldRole::heartbeat(self)
    }
}
