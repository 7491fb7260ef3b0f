//! Segment lifecycle: create, open (read-write), retire, unlink.
//!
//! The libc calls live in [`sys`]; everything above it works on a validated
//! [`Mapping`]. No reference into a mapping is formed before the file is
//! known to be at least a header long.

use std::fs::File;
use std::os::unix::fs::MetadataExt;
use std::ptr::NonNull;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::clock::{monotonic_ns, new_session_id, unix_ns};
use crate::error::{Corruption, RoleError, SegmentError, SessionError};
use crate::layout::*;
use crate::observe::NameStatus;
use crate::ring::{Consumer, Producer, RingRef};
use crate::sync::Ordering;

/// How long a heartbeat stays fresh for liveness decisions.
pub const LIVENESS_WINDOW: Duration = Duration::from_secs(3);

/// Options for [`Segment::create`].
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Number of slots: a power of two from 2 to 2^20.
    pub slot_count: u32,
    /// Permission bits of the new object (0600 unless sharing with a group).
    pub mode: u32,
    /// Replace the segment even if a live daemon holds it.
    pub force: bool,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            slot_count: DEFAULT_SLOT_COUNT,
            mode: 0o600,
            force: false,
        }
    }
}

/// What [`Segment::create`] replaced, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replaced {
    /// No object had the name.
    Nothing,
    /// A Forge segment, retired in place with this session.
    Session(u64),
    /// An object that was not a readable Forge segment (only with `force`).
    Foreign(String),
}

/// One side of the ring, for messages and liveness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    /// The writer.
    Producer,
    /// The reader.
    Consumer,
}

impl Side {
    /// `"producer"` or `"consumer"`.
    pub const fn name(self) -> &'static str {
        match self {
            Side::Producer => "producer",
            Side::Consumer => "consumer",
        }
    }

    /// Byte of the segment file whose OFD lock the holder keeps.
    pub const fn lock_offset(self) -> u64 {
        match self {
            Side::Producer => PRODUCER_LOCK_OFFSET,
            Side::Consumer => CONSUMER_LOCK_OFFSET,
        }
    }

    const fn index(self) -> usize {
        match self {
            Side::Producer => 0,
            Side::Consumer => 1,
        }
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

/// What the file system says is at a name, in words, for messages.
fn file_kind(t: &std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_dir() {
        "a directory"
    } else if t.is_fifo() {
        "a FIFO (named pipe)"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_char_device() {
        "a character device"
    } else if t.is_block_device() {
        "a block device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// Validates a segment name: one leading `/`, no other `/`, 2 to 255 bytes,
/// no NUL.
pub fn validate_name(name: &str) -> Result<(), SegmentError> {
    let bad = |reason| {
        Err(SegmentError::BadName {
            name: name.to_owned(),
            reason,
        })
    };
    if !name.starts_with('/') {
        return bad("it must start with '/', like /forge_shm");
    }
    if name.len() < 2 {
        return bad("it needs at least one character after '/'");
    }
    if name.len() > 255 {
        return bad("it is longer than 255 bytes");
    }
    if name[1..].contains('/') {
        return bad("it may contain no '/' after the first");
    }
    if name.contains('\0') {
        return bad("it contains a NUL byte");
    }
    if name.chars().any(char::is_control) {
        return bad(
            "it contains a control character (a name is printed in messages and on screens)",
        );
    }
    if name == "/." || name == "/.." {
        return bad("'.' and '..' are not object names");
    }
    Ok(())
}

/// Does a process with this pid exist in our pid namespace? Pids that
/// cannot be real are dead. Liveness of a role comes from its lock, not
/// from this: see [`Segment::live_holder`].
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
    claimed: [std::sync::atomic::AtomicBool; 2],
}

impl Mapping {
    fn header(&self) -> &Header {
        debug_assert!(self.len >= HEADER_SIZE);
        // SAFETY: the mapping is page-aligned, at least HEADER_SIZE long, and
        // every field of Header is an atomic or padding, valid for any bytes.
        unsafe { &*self.map.as_ptr().cast::<Header>() }
    }
}

/// A segment mapped read-write, for daemons and forge-init.
pub struct Segment {
    name: String,
    map: Arc<Mapping>,
    session: u64,
    slot_count: u32,
    file_size: u64,
    file_id: (u64, u64),
    owner_warning: Option<String>,
}

/// How long [`Segment::create`] waits for another forge-init's init lock.
pub const INIT_LOCK_WAIT: Duration = Duration::from_secs(10);

/// What `fstat` says about a segment file.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FileFacts {
    pub(crate) size: u64,
    pub(crate) uid: u32,
    pub(crate) mode: u32,
    pub(crate) dev: u64,
    pub(crate) ino: u64,
}

impl FileFacts {
    /// `fstat`s an opened segment; anything but a regular file is refused.
    pub(crate) fn of(name: &str, file: &File) -> Result<FileFacts, SegmentError> {
        let meta = file.metadata().map_err(|source| SegmentError::Io {
            name: name.to_owned(),
            action: "fstat",
            source,
        })?;
        if !meta.file_type().is_file() {
            return Err(SegmentError::NotRegular {
                name: name.to_owned(),
                what: file_kind(&meta.file_type()),
            });
        }
        Ok(FileFacts {
            size: meta.len(),
            uid: meta.uid(),
            mode: meta.mode() & 0o7777,
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// A warning when the object is not owned by us or others may write it.
    pub(crate) fn owner_warning(&self, name: &str) -> Option<String> {
        let me = sys::euid();
        if self.uid != me {
            Some(format!(
                "{name} is owned by uid {}, not by this user (uid {me}); mode {:04o}",
                self.uid, self.mode
            ))
        } else if self.mode & 0o022 != 0 {
            Some(format!(
                "{name} has mode {:04o}: users other than its owner may write it",
                self.mode
            ))
        } else {
            None
        }
    }
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
            .field("session", &format_args!("{:#018x}", self.session))
            .field("slot_count", &self.slot_count)
            .finish()
    }
}

impl Header {
    /// The line `side` writes.
    pub fn side(&self, side: Side) -> &SideLine {
        match side {
            Side::Producer => &self.producer,
            Side::Consumer => &self.consumer,
        }
    }
}

/// Which role of a segment a live process holds, if any, with the pid its
/// header gives. The kernel's role locks decide, in any pid namespace: a
/// lock is dropped when its holder dies, however it dies.
fn live_holder(map: &Mapping) -> Option<(Side, u32)> {
    [Side::Producer, Side::Consumer]
        .into_iter()
        .find(|&side| {
            map.claimed[side.index()].load(std::sync::atomic::Ordering::Relaxed)
                || sys::role_locked(&map.file, side) == Some(true)
        })
        .map(|side| (side, map.header().side(side).pid.load(Ordering::Relaxed)))
}

impl Segment {
    /// Creates a fresh, zeroed segment with a new session, retiring and
    /// unlinking any segment already at `name` (refused while one of its
    /// daemons is alive, unless `opts.force`).
    ///
    /// Initializers serialize on an advisory lock of `/dev/shm` itself (held
    /// from the first look at the name to the publication of the new
    /// session), so two at once cannot unlink each other's new segment: the
    /// one that finds a segment created after it started fails with
    /// [`SegmentError::Raced`]. Under that lock, a segment still
    /// initializing was left by a forge-init that died: only `force`
    /// replaces it.
    pub fn create(name: &str, opts: &CreateOptions) -> Result<(Segment, Replaced), SegmentError> {
        validate_name(name)?;
        check_slot_count(opts.slot_count)?;
        let started_ns = monotonic_ns();
        let (_init_lock, waited) = sys::lock_init(name, INIT_LOCK_WAIT)?;
        let locked_ns = monotonic_ns();
        let mut replaced = Replaced::Nothing;
        let mut old_session = 0;
        match Segment::open(name, Duration::ZERO) {
            Ok(old) => {
                // Another forge-init created it while we waited for its lock.
                // Only then: a creation time merely in our window (or in the
                // future, from another time namespace or a damaged header)
                // says nothing when nobody held the lock.
                let created = old
                    .header()
                    .identity
                    .created_mono_ns
                    .load(Ordering::Relaxed);
                if waited && (started_ns..=locked_ns).contains(&created) {
                    return Err(SegmentError::Raced {
                        name: name.to_owned(),
                    });
                }
                if let Some((side, pid)) = old.live_holder() {
                    if !opts.force {
                        return Err(SegmentError::Active {
                            name: name.to_owned(),
                            role: side.name(),
                            pid,
                        });
                    }
                }
                old_session = old.session;
                replaced = Replaced::Session(old.session);
            }
            Err(SegmentError::Missing { .. }) => {}
            Err(SegmentError::Retired { session, .. }) => {
                old_session = session;
                replaced = Replaced::Session(session);
            }
            Err(e @ SegmentError::PermissionDenied { .. }) => return Err(e),
            // We hold the init lock, so no forge-init is writing it: one died
            // half-way (SIGKILL, a file-size limit). Without this, the
            // leftover would block every later forge-init.
            Err(SegmentError::Initializing { init_pid, .. }) => {
                let stale = SegmentError::StaleInit {
                    name: name.to_owned(),
                    init_pid,
                };
                if !opts.force {
                    return Err(SegmentError::Occupied {
                        name: name.to_owned(),
                        source: Box::new(stale),
                    });
                }
                replaced = Replaced::Foreign(stale.to_string());
            }
            Err(e) if opts.force => replaced = Replaced::Foreign(e.to_string()),
            Err(e) => {
                return Err(SegmentError::Occupied {
                    name: name.to_owned(),
                    source: Box::new(e),
                })
            }
        }
        let session = new_session_id(old_session);
        if replaced != Replaced::Nothing {
            // Retire in place first, so processes that still map the old
            // object notice, then unlink: never truncate what others map.
            if let Ok(old) = Segment::open_any_state(name) {
                let id = &old.header().identity;
                id.successor_session.store(session, Ordering::Relaxed);
                // SYNC: pairs with the Acquire load of state in
                // `check_session` and in observers.
                id.state.store(STATE_RETIRED, Ordering::Release);
            }
            sys::remove(name)?;
        }
        Self::create_exclusive(name, opts, session).map(|s| (s, replaced))
    }

    fn create_exclusive(
        name: &str,
        opts: &CreateOptions,
        session: u64,
    ) -> Result<Segment, SegmentError> {
        let size = segment_size(opts.slot_count);
        let file = sys::create_exclusive(name, opts.mode)?;
        let cleanup = |e: SegmentError| {
            let _ = sys::unlink(name);
            e
        };
        let io = |action| {
            move |source| SegmentError::Io {
                name: name.to_owned(),
                action,
                source,
            }
        };
        let meta = file.metadata().map_err(io("fstat")).map_err(cleanup)?;
        if meta.uid() != sys::euid() || meta.len() != 0 {
            return Err(cleanup(SegmentError::Malformed {
                name: name.to_owned(),
                what: format!(
                    "the object we just created is owned by uid {} with {} bytes; expected ours and empty",
                    meta.uid(),
                    meta.len()
                ),
            }));
        }
        file.set_len(size as u64)
            .map_err(io("ftruncate"))
            .map_err(cleanup)?;
        // Reserve the pages now: on a full /dev/shm this fails cleanly with
        // ENOSPC instead of a SIGBUS while zeroing.
        sys::fallocate(&file, size)
            .map_err(io("fallocate"))
            .map_err(cleanup)?;
        let map = memmap2::MmapOptions::new()
            .len(size)
            .map_raw(&file)
            .map_err(io("mmap"))
            .map_err(cleanup)?;
        // SAFETY: the object was created exclusively by us a moment ago and is
        // `size` bytes long; nobody has a role in it, so nobody else writes.
        unsafe { std::ptr::write_bytes(map.as_mut_ptr(), 0, size) };
        let map = Arc::new(Mapping {
            map,
            len: size,
            file,
            claimed: Default::default(),
        });
        let id = &map.header().identity;
        id.magic.store(MAGIC, Ordering::Relaxed);
        id.layout_version.store(LAYOUT_VERSION, Ordering::Relaxed);
        id.header_size.store(HEADER_SIZE as u32, Ordering::Relaxed);
        id.slot_size.store(SLOT_SIZE as u32, Ordering::Relaxed);
        id.slot_count.store(opts.slot_count, Ordering::Relaxed);
        id.segment_size.store(size as u64, Ordering::Relaxed);
        id.payload_capacity
            .store(PAYLOAD_CAPACITY as u32, Ordering::Relaxed);
        id.init_pid.store(std::process::id(), Ordering::Relaxed);
        id.created_unix_ns.store(unix_ns(), Ordering::Relaxed);
        id.created_mono_ns.store(monotonic_ns(), Ordering::Relaxed);
        for line in [&map.header().producer, &map.header().consumer] {
            line.core.store(CORE_NONE, Ordering::Relaxed);
            line.batch.store(1, Ordering::Relaxed);
        }
        // SYNC: both pair with the Acquire load of state in `validate`: a
        // reader that sees LIVE sees every field above and the session.
        id.session_id.store(session, Ordering::Release);
        id.state.store(STATE_LIVE, Ordering::Release);
        Ok(Segment {
            name: name.to_owned(),
            map,
            session,
            slot_count: opts.slot_count,
            file_size: size as u64,
            file_id: (meta.dev(), meta.ino()),
            owner_warning: None,
        })
    }

    /// Opens a live segment read-write, waiting up to `init_wait` while it is
    /// still initializing.
    pub fn open(name: &str, init_wait: Duration) -> Result<Segment, SegmentError> {
        validate_name(name)?;
        let start = Instant::now();
        loop {
            match Self::open_once(name, false) {
                Err(SegmentError::Initializing { init_pid, .. }) => {
                    if start.elapsed() >= init_wait {
                        return Err(SegmentError::Initializing {
                            name: name.to_owned(),
                            waited_ms: start.elapsed().as_millis() as u64,
                            init_pid,
                        });
                    }
                    std::thread::sleep(Duration::from_millis(1));
                }
                other => return other,
            }
        }
    }

    /// Opens whatever is at `name` if its geometry is sound, in any state.
    fn open_any_state(name: &str) -> Result<Segment, SegmentError> {
        Self::open_once(name, true)
    }

    fn open_once(name: &str, any_state: bool) -> Result<Segment, SegmentError> {
        let file = sys::open(name, true)?;
        let facts = FileFacts::of(name, &file)?;
        let file_size = facts.size;
        check_header_fits(name, file_size)?;
        let map_io = |source| SegmentError::Io {
            name: name.to_owned(),
            action: "mmap",
            source,
        };
        // Map the header alone first: the size of what to map comes from the
        // validated header, never from the file (which anyone with write
        // access can grow to 2^47 bytes).
        let header_map = memmap2::MmapOptions::new()
            .len(HEADER_SIZE)
            .map_raw_read_only(&file)
            .map_err(map_io)?;
        // SAFETY: page-aligned, HEADER_SIZE long; Header is all atomics and
        // padding, valid for any bytes; only loads are made through it.
        let header = unsafe { &*header_map.as_ptr().cast::<Header>() };
        let geometry = validate(name, header, file_size, any_state)?;
        drop(header_map);
        let len = segment_size(geometry.slot_count);
        let map = memmap2::MmapOptions::new()
            .len(len)
            .map_raw(&file)
            .map_err(map_io)?;
        let map = Arc::new(Mapping {
            map,
            len,
            file,
            claimed: Default::default(),
        });
        // Validated again on the mapping we keep: the header may have
        // changed between the two maps.
        let again = validate(name, map.header(), file_size, any_state)?;
        if (again.session, again.slot_count) != (geometry.session, geometry.slot_count) {
            return Err(SegmentError::Malformed {
                name: name.to_owned(),
                what: "the header changed while it was opened".into(),
            });
        }
        Ok(Segment {
            name: name.to_owned(),
            map,
            session: geometry.session,
            slot_count: geometry.slot_count,
            file_size: len as u64,
            file_id: (facts.dev, facts.ino),
            owner_warning: facts.owner_warning(name),
        })
    }

    /// The segment's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The session this handle was opened in.
    pub fn session_id(&self) -> u64 {
        self.session
    }

    /// Number of slots.
    pub fn slot_count(&self) -> u32 {
        self.slot_count
    }

    /// Size of the file in bytes.
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
        name_status(&self.name, self.file_id)
    }

    /// The object's size now, if the name still leads to it (a truncation
    /// shows here before a touch of the lost pages raises SIGBUS).
    pub fn size_now(&self) -> Option<u64> {
        let meta = std::fs::metadata(shm_path(&self.name)).ok()?;
        ((meta.dev(), meta.ino()) == self.file_id).then_some(meta.len())
    }

    /// Where this process maps the segment: start address and length. For
    /// fault reports (a SIGBUS inside this range means the object shrank).
    pub fn mapped_range(&self) -> (usize, usize) {
        (self.map.map.as_ptr() as usize, self.map.len)
    }

    /// The shared header. Every field is an atomic.
    pub fn header(&self) -> &Header {
        self.map.header()
    }

    /// A role held by a live process, if any, with the pid its header gives
    /// (in the holder's pid namespace). The kernel's role locks decide, so a
    /// holder in another container counts, and a dead holder whose pid was
    /// reused does not.
    pub fn live_holder(&self) -> Option<(Side, u32)> {
        live_holder(&self.map)
    }

    /// `Ok` while the segment is live in the session we opened and its
    /// identity line is intact.
    pub fn check_session(&self) -> Result<(), SessionError> {
        check_session(self.header(), self.session, self.slot_count)
    }

    fn ring(&self) -> RingRef {
        let base = self.map.map.as_mut_ptr();
        let header = self.header();
        RingRef {
            producer: NonNull::from(&header.producer),
            consumer: NonNull::from(&header.consumer),
            // SAFETY: validate() checked the file holds slot_count slots
            // after the header.
            slots: NonNull::new(unsafe { base.add(HEADER_SIZE) }.cast::<Slot>())
                .expect("mapping is non-null"),
            mask: u64::from(self.slot_count) - 1,
            lap_shift: self.slot_count.trailing_zeros(),
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
    pub fn producer_with(&self, claim: &Claim) -> Result<Producer, RoleError> {
        let mut role = Role::claim(self, Side::Producer)?;
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
    pub fn consumer_with(&self, claim: &Claim) -> Result<Consumer, RoleError> {
        let mut role = Role::claim(self, Side::Consumer)?;
        let mut consumer = Consumer::attach(self.ring())?;
        role.activate(claim);
        consumer.set_role(role);
        Ok(consumer)
    }

    /// Removes the name. Processes that map the object keep their mapping.
    pub fn unlink(&self) -> Result<(), SegmentError> {
        unlink(&self.name)
    }
}

/// The object's path on Linux.
pub(crate) fn shm_path(name: &str) -> String {
    format!("/dev/shm{name}")
}

/// Does `name` still lead to the object `(dev, ino)`?
pub(crate) fn name_status(name: &str, file_id: (u64, u64)) -> NameStatus {
    match std::fs::symlink_metadata(shm_path(name)) {
        Ok(m) if (m.dev(), m.ino()) == file_id => NameStatus::Same,
        Ok(_) => NameStatus::Replaced,
        Err(_) => NameStatus::Unlinked,
    }
}

/// Checks a header given as bytes, as [`Segment::open`] checks a mapped one
/// against a file of `bytes.len()` bytes, without creating anything: for
/// fuzzers, property tests and readers in other languages to compare with.
/// Returns the session and the slot count of a live segment.
#[doc(hidden)]
pub fn validate_header_bytes(bytes: &[u8]) -> Result<(u64, u32), SegmentError> {
    const NAME: &str = "/header_bytes";
    check_header_fits(NAME, bytes.len() as u64)?;
    // An aligned private copy: the header is read with atomic loads only.
    let mut copy = Box::new(std::mem::MaybeUninit::<Header>::zeroed());
    // SAFETY: `copy` is a Header-sized allocation we own, and bytes holds at
    // least HEADER_SIZE = size_of::<Header>() bytes (checked above).
    unsafe {
        std::ptr::copy_nonoverlapping(
            bytes.as_ptr(),
            copy.as_mut_ptr().cast::<u8>(),
            std::mem::size_of::<Header>(),
        )
    };
    // SAFETY: every field of Header is an atomic integer or padding, valid
    // for any bytes, and all of them were written above.
    let header = unsafe { copy.assume_init_ref() };
    validate(NAME, header, bytes.len() as u64, false).map(|g| (g.session, g.slot_count))
}

/// Removes the object called `name`.
pub fn unlink(name: &str) -> Result<(), SegmentError> {
    validate_name(name)?;
    sys::unlink(name)
}

pub(crate) fn check_slot_count(n: u32) -> Result<(), SegmentError> {
    if n.is_power_of_two() && (MIN_SLOT_COUNT..=MAX_SLOT_COUNT).contains(&n) {
        Ok(())
    } else {
        Err(SegmentError::BadSlotCount {
            found: n.into(),
            min: MIN_SLOT_COUNT,
            max: MAX_SLOT_COUNT,
        })
    }
}

pub(crate) fn check_header_fits(name: &str, file_size: u64) -> Result<(), SegmentError> {
    if file_size == 0 {
        // forge-init has created the object but not yet sized it.
        return Err(SegmentError::Initializing {
            name: name.to_owned(),
            waited_ms: 0,
            init_pid: 0,
        });
    }
    if file_size < HEADER_SIZE as u64 {
        return Err(SegmentError::TooShort {
            name: name.to_owned(),
            found: file_size,
            expected: HEADER_SIZE as u64,
        });
    }
    Ok(())
}

/// What a valid header says.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Geometry {
    pub(crate) session: u64,
    pub(crate) slot_count: u32,
}

/// Checks every identity field against the file's real size. The header is
/// read only with atomic loads: it may be hostile or changing.
pub(crate) fn validate(
    name: &str,
    header: &Header,
    file_size: u64,
    any_state: bool,
) -> Result<Geometry, SegmentError> {
    let id = &header.identity;
    let malformed = |what: String| {
        Err(SegmentError::Malformed {
            name: name.to_owned(),
            what,
        })
    };
    // SYNC: pairs with the Release store of state in `create_exclusive`.
    let state = id.state.load(Ordering::Acquire);
    let magic = id.magic.load(Ordering::Relaxed);
    if magic == 0 && state == STATE_INITIALIZING {
        return Err(SegmentError::Initializing {
            name: name.to_owned(),
            waited_ms: 0,
            init_pid: id.init_pid.load(Ordering::Relaxed),
        });
    }
    if magic != MAGIC {
        return Err(SegmentError::NotForge {
            name: name.to_owned(),
            found: magic,
            expected: MAGIC,
        });
    }
    let version = id.layout_version.load(Ordering::Relaxed);
    if version != LAYOUT_VERSION {
        return Err(SegmentError::Version {
            name: name.to_owned(),
            found: version,
            expected: LAYOUT_VERSION,
        });
    }
    if !any_state && state == STATE_INITIALIZING {
        return Err(SegmentError::Initializing {
            name: name.to_owned(),
            waited_ms: 0,
            init_pid: id.init_pid.load(Ordering::Relaxed),
        });
    }
    let header_size = id.header_size.load(Ordering::Relaxed);
    if header_size as usize != HEADER_SIZE {
        return malformed(format!(
            "header_size is {header_size}, expected {HEADER_SIZE}"
        ));
    }
    let slot_size = id.slot_size.load(Ordering::Relaxed);
    if slot_size as usize != SLOT_SIZE {
        return malformed(format!("slot_size is {slot_size}, expected {SLOT_SIZE}"));
    }
    let slot_count = id.slot_count.load(Ordering::Relaxed);
    if check_slot_count(slot_count).is_err() {
        return malformed(format!(
            "slot_count is {slot_count}, expected a power of two from {MIN_SLOT_COUNT} to {MAX_SLOT_COUNT}"
        ));
    }
    let declared = id.segment_size.load(Ordering::Relaxed);
    let expected = segment_size(slot_count) as u64;
    if declared != expected {
        return malformed(format!(
            "segment_size is {declared}, expected {expected} for {slot_count} slots"
        ));
    }
    if file_size < declared {
        return Err(SegmentError::TooShort {
            name: name.to_owned(),
            found: file_size,
            expected: declared,
        });
    }
    if file_size > declared {
        return Err(SegmentError::TooLong {
            name: name.to_owned(),
            found: file_size,
            declared,
        });
    }
    // Ordered by the Acquire load of state above (the session is stored
    // before it), so Relaxed suffices.
    let session = id.session_id.load(Ordering::Relaxed);
    if !any_state {
        match state {
            STATE_LIVE if session != 0 => {}
            STATE_LIVE => return malformed("state is live but session_id is 0".into()),
            STATE_RETIRED => {
                return Err(SegmentError::Retired {
                    name: name.to_owned(),
                    session,
                    successor: id.successor_session.load(Ordering::Relaxed),
                })
            }
            other => return malformed(format!("state is {other}, expected 0, 1 or 2")),
        }
    }
    Ok(Geometry {
        session,
        slot_count,
    })
}

/// `Ok` while the header still reads as the live segment we attached to
/// (session `ours`, `slot_count` slots). A retirement is the one legitimate
/// change; any other change of the identity line is damage.
pub(crate) fn check_session(
    header: &Header,
    ours: u64,
    slot_count: u32,
) -> Result<(), SessionError> {
    let id = &header.identity;
    // SYNC: pairs with the Release store of state in `Segment::create` when
    // it retires this segment: the successor written before it is visible.
    let state = id.state.load(Ordering::Acquire);
    let corrupt = |what: String| Err(SessionError::Corrupt(Corruption::Identity { what }));
    let fields: [(&str, u64, u64); 7] = [
        ("magic", id.magic.load(Ordering::Relaxed), MAGIC),
        (
            "layout_version",
            id.layout_version.load(Ordering::Relaxed).into(),
            LAYOUT_VERSION.into(),
        ),
        (
            "header_size",
            id.header_size.load(Ordering::Relaxed).into(),
            HEADER_SIZE as u64,
        ),
        (
            "slot_size",
            id.slot_size.load(Ordering::Relaxed).into(),
            SLOT_SIZE as u64,
        ),
        (
            "slot_count",
            id.slot_count.load(Ordering::Relaxed).into(),
            slot_count.into(),
        ),
        (
            "segment_size",
            id.segment_size.load(Ordering::Relaxed),
            segment_size(slot_count) as u64,
        ),
        ("session_id", id.session_id.load(Ordering::Relaxed), ours),
    ];
    for (field, found, expected) in fields {
        if found != expected {
            return corrupt(format!("{field} is {found:#x}, expected {expected:#x}"));
        }
    }
    match state {
        STATE_LIVE => Ok(()),
        STATE_RETIRED => Err(SessionError::Retired {
            ours,
            successor: id.successor_session.load(Ordering::Relaxed),
        }),
        other => corrupt(format!(
            "state is {other}, expected 1 (live) or 2 (retired)"
        )),
    }
}

/// A held role: the kernel lock that makes it ours, and pid, session and
/// heartbeat for inspectors. Released on drop.
pub(crate) struct Role {
    header: NonNull<Header>,
    side: Side,
    session: u64,
    slot_count: u32,
    pid: u32,
    /// Activated: the line says we hold the role.
    active: bool,
    _keep: Arc<Mapping>,
}

// SAFETY: `header` points into `_keep`'s mapping; only atomics are touched.
unsafe impl Send for Role {}

impl Role {
    fn claim(segment: &Segment, side: Side) -> Result<Role, RoleError> {
        let header = segment.header();
        segment.check_session()?;
        let line = header.side(side);
        let held = || RoleError::Held {
            role: side.name(),
            pid: line.pid.load(Ordering::Relaxed),
        };
        // One claim per side through one segment handle: the kernel would
        // not stop a second one (the lock is the same open file's).
        let mine = &segment.map.claimed[side.index()];
        if mine.swap(true, std::sync::atomic::Ordering::Relaxed) {
            return Err(held());
        }
        let unclaim = |e: RoleError| {
            mine.store(false, std::sync::atomic::Ordering::Relaxed);
            e
        };
        // The kernel decides who holds the role, in any pid namespace: the
        // lock stays with a live holder (even a stopped one) and is dropped
        // when it dies, however it dies. The pid is only for display.
        match sys::lock_role(&segment.map.file, side) {
            Ok(true) => {}
            Ok(false) => return Err(unclaim(held())),
            Err(source) => {
                return Err(unclaim(RoleError::Lock {
                    role: side.name(),
                    source,
                }))
            }
        }
        Ok(Role {
            header: NonNull::from(header),
            side,
            session: segment.session,
            slot_count: segment.slot_count,
            pid: std::process::id(),
            active: false,
            _keep: segment.map.clone(),
        })
    }

    /// Writes who we are into the line and marks the role active: after the
    /// attach checks passed, so a refused attach leaves the line as it was.
    fn activate(&mut self, claim: &Claim) {
        // The previous holder is gone: its stores are visible to us through
        // the kernel's lock hand-over (and its release stores).
        let line = self.line();
        let me = crate::process::Identity::current();
        let now = monotonic_ns();
        line.pid.store(me.pid, Ordering::Relaxed);
        line.pidns.store(me.pidns, Ordering::Relaxed);
        line.start_ticks.store(me.start_ticks, Ordering::Relaxed);
        line.uid.store(sys::euid(), Ordering::Relaxed);
        line.flags.store(claim.flags, Ordering::Relaxed);
        let program = if claim.program.is_empty() {
            crate::process::program_name()
        } else {
            claim.program.clone()
        };
        let mut name = [0u8; 16];
        for (dst, src) in name.iter_mut().zip(program.bytes()) {
            *dst = src;
        }
        line.program[0].store(
            u64::from_le_bytes(name[..8].try_into().unwrap()),
            Ordering::Relaxed,
        );
        line.program[1].store(
            u64::from_le_bytes(name[8..].try_into().unwrap()),
            Ordering::Relaxed,
        );
        line.session.store(self.session, Ordering::Relaxed);
        line.core
            .store(claim.core.unwrap_or(CORE_NONE), Ordering::Relaxed);
        line.heartbeat_ns.store(now, Ordering::Relaxed);
        line.started_mono_ns.store(now, Ordering::Relaxed);
        // SYNC: pairs with the Acquire load of role_state in observers: the
        // fields above are visible with ACTIVE.
        line.role_state.store(ROLE_ACTIVE, Ordering::Release);
        self.active = true;
    }

    fn header(&self) -> &Header {
        // SAFETY: `_keep` owns the mapping `header` points into.
        unsafe { self.header.as_ref() }
    }

    fn line(&self) -> &SideLine {
        self.header().side(self.side)
    }

    pub(crate) fn check_session(&self) -> Result<(), SessionError> {
        check_session(self.header(), self.session, self.slot_count)
    }

    pub(crate) fn heartbeat(&self) {
        self.line()
            .heartbeat_ns
            .store(monotonic_ns(), Ordering::Relaxed);
    }

    pub(crate) fn set_batch(&self, batch: u64) {
        self.line()
            .batch
            .store(batch.min(u32::MAX as u64) as u32, Ordering::Relaxed);
    }

    pub(crate) fn session(&self) -> u64 {
        self.session
    }

    /// Adds one transit-latency sample to the consumer's histogram. Single
    /// writer: plain load and store, no read-modify-write.
    #[inline]
    pub(crate) fn record_latency(&self, ns: u64) {
        let lat = &self.header().latency;
        let bump = |a: &crate::sync::AtomicU64, by: u64| {
            a.store(
                a.load(Ordering::Relaxed).wrapping_add(by),
                Ordering::Relaxed,
            )
        };
        match bucket_of(ns) {
            Some(i) => bump(&lat.buckets[i], 1),
            None => bump(&lat.overflow, 1),
        }
        bump(&lat.sum_ns, ns);
        if ns > lat.max_ns.load(Ordering::Relaxed) {
            lat.max_ns.store(ns, Ordering::Relaxed);
        }
        bump(&lat.count, 1);
    }
}

impl Drop for Role {
    fn drop(&mut self) {
        // Never write into a segment of another session, nor into a damaged
        // one; the lock goes either way.
        if self.active && self.check_session().is_ok() {
            let line = self.line();
            line.heartbeat_ns.store(monotonic_ns(), Ordering::Relaxed);
            // SYNC: pairs with the Acquire load of role_state in observers.
            line.role_state.store(ROLE_STOPPED, Ordering::Release);
            if line.pid.load(Ordering::Relaxed) == self.pid {
                line.pid.store(0, Ordering::Relaxed);
            }
        }
        sys::unlock_role(&self._keep.file, self.side);
        self._keep.claimed[self.side.index()].store(false, std::sync::atomic::Ordering::Relaxed);
    }
}

/// The system calls, in one place.
mod sys {
    use super::{file_kind, shm_path, SegmentError, Side};
    use nix::errno::Errno;
    use nix::fcntl::OFlag;
    use nix::sys::stat::Mode;
    use std::fs::File;
    use std::os::fd::AsRawFd;

    fn err(name: &str, action: &'static str, e: Errno) -> SegmentError {
        let source = std::io::Error::from(e);
        match e {
            Errno::ENOENT => SegmentError::Missing {
                name: name.to_owned(),
            },
            Errno::EACCES | Errno::EPERM => SegmentError::PermissionDenied {
                name: name.to_owned(),
                source,
            },
            Errno::EEXIST => SegmentError::Raced {
                name: name.to_owned(),
            },
            _ => match std::fs::symlink_metadata(shm_path(name)) {
                // Say what is in the way rather than what the call said
                // (EISDIR, ELOOP, ENXIO, EINVAL…).
                Ok(meta) if !meta.file_type().is_file() => SegmentError::NotRegular {
                    name: name.to_owned(),
                    what: file_kind(&meta.file_type()),
                },
                _ => SegmentError::Io {
                    name: name.to_owned(),
                    action,
                    source,
                },
            },
        }
    }

    /// Opens an existing object. `O_NONBLOCK`: a FIFO at the name must not
    /// block the open (it is refused right after, by type); `O_NOFOLLOW`: a
    /// symbolic link is refused, not followed.
    pub(super) fn open(name: &str, write: bool) -> Result<File, SegmentError> {
        let flags = if write {
            OFlag::O_RDWR
        } else {
            OFlag::O_RDONLY
        };
        nix::sys::mman::shm_open(
            name,
            flags | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK,
            Mode::empty(),
        )
        .map(File::from)
        .map_err(|e| err(name, "shm_open", e))
    }

    pub(super) fn create_exclusive(name: &str, mode: u32) -> Result<File, SegmentError> {
        let flags =
            OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
        let perms = Mode::from_bits_truncate(mode & 0o777);
        let fd =
            nix::sys::mman::shm_open(name, flags, perms).map_err(|e| err(name, "shm_open", e))?;
        // The umask may have cleared bits; the mode asked for is the mode set.
        nix::sys::stat::fchmod(fd.as_raw_fd(), perms).map_err(|e| {
            let _ = nix::sys::mman::shm_unlink(name);
            err(name, "fchmod", e)
        })?;
        Ok(File::from(fd))
    }

    pub(super) fn fallocate(file: &File, size: usize) -> std::io::Result<()> {
        nix::fcntl::posix_fallocate(file.as_raw_fd(), 0, size as i64).map_err(std::io::Error::from)
    }

    /// The initializers' lock: an exclusive `flock` on the `/dev/shm`
    /// directory, released when the returned handle drops (or the process
    /// dies, so a killed forge-init never leaves it held). Also says whether
    /// another initializer held it when we first asked.
    pub(super) fn lock_init(
        name: &str,
        wait: std::time::Duration,
    ) -> Result<(nix::fcntl::Flock<File>, bool), SegmentError> {
        use nix::fcntl::{Flock, FlockArg};
        let io = |source: std::io::Error| SegmentError::Io {
            name: name.to_owned(),
            action: "locking /dev/shm for initialization",
            source,
        };
        let deadline = std::time::Instant::now() + wait;
        let mut dir = File::open("/dev/shm").map_err(io)?;
        let mut waited = false;
        loop {
            match Flock::lock(dir, FlockArg::LockExclusiveNonblock) {
                Ok(lock) => return Ok((lock, waited)),
                Err((back, Errno::EWOULDBLOCK)) if std::time::Instant::now() < deadline => {
                    dir = back;
                    waited = true;
                    std::thread::sleep(std::time::Duration::from_millis(1));
                }
                Err((_, Errno::EWOULDBLOCK)) => {
                    return Err(io(std::io::Error::new(
                        std::io::ErrorKind::WouldBlock,
                        format!("another forge-init has held the lock for {wait:?}; is it stuck?"),
                    )))
                }
                Err((_, e)) => return Err(io(e.into())),
            }
        }
    }

    pub(super) fn unlink(name: &str) -> Result<(), SegmentError> {
        nix::sys::mman::shm_unlink(name).map_err(|e| err(name, "shm_unlink", e))
    }

    /// Removes whatever has the name so it can be created anew: any file
    /// (a segment, a FIFO, a socket, a symbolic link — never what it points
    /// to), or an empty directory. A directory with entries is left alone.
    pub(super) fn remove(name: &str) -> Result<(), SegmentError> {
        let path = shm_path(name);
        match std::fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => {
                std::fs::remove_dir(&path).map_err(|_| SegmentError::InTheWay {
                    name: name.to_owned(),
                    what: "a directory that is not empty",
                })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            _ => match unlink(name) {
                Err(SegmentError::Missing { .. }) => Ok(()),
                other => other,
            },
        }
    }

    pub(super) fn euid() -> u32 {
        nix::unistd::geteuid().as_raw()
    }

    fn role_flock(side: Side, kind: libc::c_short) -> libc::flock {
        // SAFETY: flock is plain old data; all-zero is a valid value.
        let mut fl: libc::flock = unsafe { std::mem::zeroed() };
        fl.l_type = kind;
        fl.l_whence = libc::SEEK_SET as libc::c_short;
        fl.l_start = side.lock_offset() as libc::off_t;
        fl.l_len = 1;
        fl
    }

    /// Takes `side`'s role lock on `file` without waiting: `Ok(false)` when
    /// another open file holds it. An OFD lock belongs to the open file, so
    /// it is dropped when the holder's last descriptor closes, which the
    /// kernel does when the holder dies, in whatever pid namespace.
    pub(super) fn lock_role(file: &File, side: Side) -> std::io::Result<bool> {
        let fl = role_flock(side, libc::F_WRLCK as libc::c_short);
        match nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_OFD_SETLK(&fl)) {
            Ok(_) => Ok(true),
            Err(Errno::EAGAIN | Errno::EACCES) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// Drops `side`'s role lock taken on `file`.
    pub(super) fn unlock_role(file: &File, side: Side) {
        let fl = role_flock(side, libc::F_UNLCK as libc::c_short);
        let _ = nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_OFD_SETLK(&fl));
    }

    /// Does another open file hold `side`'s role lock? `None` if the kernel
    /// would not say. Works on a read-only descriptor: testing for a lock
    /// needs no write access.
    pub(super) fn role_locked(file: &File, side: Side) -> Option<bool> {
        let mut fl = role_flock(side, libc::F_WRLCK as libc::c_short);
        nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_OFD_GETLK(&mut fl)).ok()?;
        Some(fl.l_type != libc::F_UNLCK as libc::c_short)
    }
}

/// Does a process other than us hold `side`'s role lock of the object
/// `file` is open on? For observers.
pub(crate) fn role_locked(file: &File, side: Side) -> Option<bool> {
    sys::role_locked(file, side)
}

/// Opens `name` `O_RDONLY` for observers.
pub(crate) fn open_read_only_file(name: &str) -> Result<File, SegmentError> {
    validate_name(name)?;
    sys::open(name, false)
}
