//! A segment's life: created fresh, or replacing what was at the name
//! (retired and unlinked first), opened by daemons, removed.
//!
//! ```text
//!  create:  lock /dev/shm ─▶ O_EXCL create (refused if the name exists) ─▶ size,
//!           reserve, zero ─▶ identity ─▶ session_id, state = live (Release)
//!  replace: lock /dev/shm ─▶ look at the name ─▶ live holder? refuse (unless Retire)
//!           ─▶ retire the old one in place ─▶ unlink ─▶ as create
//!  open_or_create: open ─▶ missing? create ─▶ created meanwhile? open
//!  open:    open O_RDWR|O_NONBLOCK|O_NOFOLLOW ─▶ regular file? ─▶ map the header
//!           ─▶ validate ─▶ map the declared size ─▶ validate again
//! ```

use std::sync::Arc;
use std::time::Duration;

use std::os::unix::fs::MetadataExt;

use super::locks;
use super::sys::{self, FileFacts};
use super::validate::{
    check_header_fits, check_payload_capacity, check_slot_count, retry_while_initializing,
    validate, validate_name, Geometry,
};
use super::{Mapping, Segment};
use crate::clock::{monotonic_ns, new_session_id, unix_ns};
use crate::error::HeaderProblem;
use crate::error::SegmentError;
use crate::layout::*;
use crate::process::LockedObject;
use crate::sync::Ordering;
use crate::vocab::SegmentState;

/// How long [`Segment::create`] and [`Segment::replace`] wait for another
/// initializer's lock.
pub const INIT_LOCK_WAIT: Duration = Duration::from_secs(10);

/// Options for [`Segment::create`], [`Segment::replace`] and
/// [`Segment::open_or_create`].
#[derive(Debug, Clone)]
pub struct CreateOptions {
    /// Number of slots: a power of two from 2 to 2^20.
    pub slot_count: u32,
    /// Payload bytes per slot, the largest frame the ring carries: a
    /// multiple of 8 from 8 to 4096 ([`PAYLOAD_CAPACITY`], the default).
    /// Rings of small frames move more of them per second in small slots.
    pub payload_capacity: usize,
    /// Permission bits of the new object (0600 unless sharing with a group).
    pub mode: u32,
}

impl Default for CreateOptions {
    fn default() -> Self {
        CreateOptions {
            slot_count: DEFAULT_SLOT_COUNT,
            payload_capacity: PAYLOAD_CAPACITY,
            mode: 0o600,
        }
    }
}

/// What [`Segment::replace`] does when a live process holds a role of the
/// segment it would replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LiveHolders {
    /// Refuse with [`SegmentError::Active`]: only a segment nobody holds is
    /// replaced (forge-init without `--force`).
    Refuse,
    /// Retire the segment under them: they see it retired at their next
    /// session check and stop (forge-init `--force`). Also replaces what is
    /// not a usable segment: a foreign object, a partial segment left by an
    /// initializer that died.
    Retire,
}

/// Whether [`Segment::open_or_create`] found the segment or made it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Obtained {
    /// A live segment was at the name and was opened.
    Opened,
    /// Nothing was at the name; a fresh segment was created.
    Created,
}

/// What [`Segment::replace`] replaced, if anything.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Replaced {
    /// No object had the name.
    Nothing,
    /// A Forge segment, retired in place with this session.
    Session(u64),
    /// An object that was not a usable Forge segment (only with
    /// [`LiveHolders::Retire`]).
    Foreign(String),
}

impl Segment {
    /// Creates a fresh, zeroed segment with a new session at `name`, which
    /// must be free: [`SegmentError::Exists`] if anything is there (a
    /// segment, live or not, or anything else). It never replaces: see
    /// [`replace`](Self::replace) and [`open_or_create`](Self::open_or_create).
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_fabric::{CreateOptions, Segment, SegmentError};
    ///
    /// let name = format!("/forge_doc_create_{}", std::process::id());
    /// let opts = CreateOptions { slot_count: 8, ..CreateOptions::default() };
    /// let segment = Segment::create(&name, &opts)?;
    /// assert_eq!(segment.slot_count(), 8);
    /// assert_ne!(segment.session_id(), 0);
    /// // The name is taken now: a second create is refused.
    /// assert!(matches!(Segment::create(&name, &opts), Err(SegmentError::Exists { .. })));
    /// segment.unlink()?;
    /// # Ok::<(), SegmentError>(())
    /// ```
    pub fn create(name: &str, opts: &CreateOptions) -> Result<Segment, SegmentError> {
        validate_name(name)?;
        check_slot_count(opts.slot_count)?;
        check_payload_capacity(opts.payload_capacity)?;
        let (_init_lock, _) = sys::lock_init(name, INIT_LOCK_WAIT)?;
        Self::create_exclusive(name, opts, new_session_id(0))
    }

    /// Opens the live segment at `name` (waiting up to `init_wait` while it
    /// initializes), or creates it when nothing is there. A segment created
    /// by another process between the two is opened. An existing segment
    /// whose slots differ from `opts` is refused ([`SegmentError::Mismatch`]),
    /// never replaced.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use forge_fabric::{CreateOptions, Obtained, Segment};
    ///
    /// let name = format!("/forge_doc_open_or_create_{}", std::process::id());
    /// let opts = CreateOptions::default();
    /// let (first, how) = Segment::open_or_create(&name, &opts, Duration::from_secs(2))?;
    /// assert_eq!(how, Obtained::Created);
    /// let (second, how) = Segment::open_or_create(&name, &opts, Duration::from_secs(2))?;
    /// assert_eq!(how, Obtained::Opened);
    /// assert_eq!(first.session_id(), second.session_id());
    /// first.unlink()?;
    /// # Ok::<(), forge_fabric::SegmentError>(())
    /// ```
    pub fn open_or_create(
        name: &str,
        opts: &CreateOptions,
        init_wait: Duration,
    ) -> Result<(Segment, Obtained), SegmentError> {
        validate_name(name)?;
        check_slot_count(opts.slot_count)?;
        check_payload_capacity(opts.payload_capacity)?;
        // Twice at most: a create that finds the name taken means another
        // process made it since our open looked, and the next open finds it.
        let mut tries = 2;
        loop {
            tries -= 1;
            match Segment::open(name, init_wait) {
                Ok(segment) => {
                    let (slots, capacity) = (segment.slot_count(), segment.payload_capacity());
                    if (slots, capacity) != (opts.slot_count, opts.payload_capacity) {
                        return Err(SegmentError::Mismatch {
                            name: name.to_owned(),
                            slot_count: slots,
                            payload_capacity: capacity,
                            wanted_slot_count: opts.slot_count,
                            wanted_payload_capacity: opts.payload_capacity,
                        });
                    }
                    return Ok((segment, Obtained::Opened));
                }
                Err(SegmentError::Missing { .. }) => match Segment::create(name, opts) {
                    Ok(segment) => return Ok((segment, Obtained::Created)),
                    Err(SegmentError::Exists { .. }) if tries > 0 => continue,
                    Err(e) => return Err(e),
                },
                Err(e) => return Err(e),
            }
        }
    }

    /// Creates a fresh, zeroed segment with a new session at `name`,
    /// replacing what is there: a segment is first retired in place (so
    /// processes still mapping it see it retired, naming its successor) and
    /// unlinked, never truncated. `live` says what to do when a live process
    /// holds one of its roles, and whether anything that is not a usable
    /// segment may be removed. This is what forge-init does.
    ///
    /// Initializers serialize on an advisory lock of `/dev/shm` itself (held
    /// from the first look at the name to the publication of the new
    /// session), so two at once cannot unlink each other's new segment: one
    /// that waited for that lock and then finds a segment created while it
    /// waited fails with [`SegmentError::Raced`]. Under that lock, a segment
    /// still initializing was left by an initializer that died: only
    /// [`LiveHolders::Retire`] replaces it.
    ///
    /// # Examples
    ///
    /// ```
    /// use forge_fabric::{CreateOptions, LiveHolders, Replaced, Segment, SegmentError};
    ///
    /// let name = format!("/forge_doc_replace_{}", std::process::id());
    /// let opts = CreateOptions::default();
    /// let (old, replaced) = Segment::replace(&name, &opts, LiveHolders::Refuse)?;
    /// assert_eq!(replaced, Replaced::Nothing);
    /// let producer = old.producer()?;
    /// // A live producer holds it: refused, unless told to retire it anyway.
    /// assert!(matches!(
    ///     Segment::replace(&name, &opts, LiveHolders::Refuse),
    ///     Err(SegmentError::Active { .. })
    /// ));
    /// let (new, replaced) = Segment::replace(&name, &opts, LiveHolders::Retire)?;
    /// assert_eq!(replaced, Replaced::Session(old.session_id()));
    /// assert!(producer.check_session().is_err(), "the old session was retired");
    /// # drop(producer);
    /// new.unlink()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replace(
        name: &str,
        opts: &CreateOptions,
        live: LiveHolders,
    ) -> Result<(Segment, Replaced), SegmentError> {
        let force = live == LiveHolders::Retire;
        validate_name(name)?;
        check_slot_count(opts.slot_count)?;
        check_payload_capacity(opts.payload_capacity)?;
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
                    .map
                    .header()
                    .identity
                    .created_mono_ns
                    .load(Ordering::Relaxed);
                if waited && (started_ns..=locked_ns).contains(&created) {
                    return Err(SegmentError::Raced {
                        name: name.to_owned(),
                    });
                }
                if let Some((role, pid)) = old.live_holder() {
                    if !force {
                        return Err(SegmentError::Active {
                            name: name.to_owned(),
                            role,
                            pid,
                        });
                    }
                }
                old_session = old.geometry.session;
                replaced = Replaced::Session(old.geometry.session);
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
                if !force {
                    return Err(SegmentError::Occupied {
                        name: name.to_owned(),
                        source: Box::new(stale),
                    });
                }
                replaced = Replaced::Foreign(stale.to_string());
            }
            Err(e) if force => replaced = Replaced::Foreign(e.to_string()),
            Err(e) => {
                return Err(SegmentError::Occupied {
                    name: name.to_owned(),
                    source: Box::new(e),
                })
            }
        }
        let session = new_session_id(old_session);
        if replaced != Replaced::Nothing {
            // Prove first that both names can be removed: a retirement we
            // could not follow with an unlink would stop the old daemons
            // for a successor that never comes.
            sys::check_removable(name)?;
            sys::check_removable(&locks::role_locks_name(name))?;
            // Retire in place first, so processes that still map the old
            // object notice, then unlink: never truncate what others map.
            if let Ok(old) = Segment::open_once(name, true) {
                let id = &old.map.header().identity;
                id.successor_session.store(session, Ordering::Relaxed);
                // SYNC: pairs with the Acquire load of state in
                // `check_session` and in observers.
                id.state
                    .store(SegmentState::Retired.code(), Ordering::Release);
            }
            sys::remove(name)?;
            locks::remove(name)?;
        }
        // Under the init lock, only something other than an initializer can
        // have taken the name since we looked.
        match Self::create_exclusive(name, opts, session) {
            Ok(segment) => Ok((segment, replaced)),
            Err(SegmentError::Exists { name }) => Err(SegmentError::Raced { name }),
            Err(e) => Err(e),
        }
    }

    fn create_exclusive(
        name: &str,
        opts: &CreateOptions,
        session: u64,
    ) -> Result<Segment, SegmentError> {
        // The segment's name first (exclusively: this is what says the
        // name was free), then its role-lock object, with the segment's
        // write bits only (see `locks`); the header names it.
        let file = sys::create_exclusive(name, opts.mode)?;
        let unlink_segment = |e: SegmentError| {
            let _ = sys::unlink(name);
            e
        };
        let roles = locks::create(name, opts.mode).map_err(unlink_segment)?;
        let cleanup = |e: SegmentError| {
            let _ = sys::unlink(name);
            let _ = locks::remove(name);
            e
        };
        let roles_meta = roles.metadata().map_err(|source| {
            cleanup(SegmentError::Io {
                name: name.to_owned(),
                action: "fstat",
                source,
            })
        })?;
        let geometry = Geometry {
            session,
            slot_count: opts.slot_count,
            payload_capacity: opts.payload_capacity,
            layout_version: LAYOUT_VERSION,
            role_lock_ino: roles_meta.ino(),
        };
        let size = geometry.size();
        let io = |action| {
            move |source| SegmentError::Io {
                name: name.to_owned(),
                action,
                source,
            }
        };
        let facts = FileFacts::of(name, &file).map_err(cleanup)?;
        if facts.uid != sys::euid() || facts.size != 0 {
            return Err(cleanup(SegmentError::Swapped {
                name: name.to_owned(),
                uid: facts.uid,
                size: facts.size,
            }));
        }
        if roles_meta.dev() != facts.file_id.0 || roles_meta.uid() != facts.uid {
            return Err(cleanup(SegmentError::Swapped {
                name: locks::role_locks_name(name),
                uid: roles_meta.uid(),
                size: roles_meta.len(),
            }));
        }
        let locks = locks::RoleLocks {
            file: Some(roles),
            object: LockedObject::of(roles_meta.dev(), roles_meta.ino()),
        };
        file.set_len(size as u64)
            .map_err(io("ftruncate"))
            .map_err(cleanup)?;
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
        let map = Arc::new(Mapping::new(map, size, file, locks));
        let header = map.header();
        let id = &header.identity;
        id.magic.store(MAGIC, Ordering::Relaxed);
        id.layout_version
            .store(geometry.layout_version, Ordering::Relaxed);
        id.header_size.store(HEADER_SIZE as u32, Ordering::Relaxed);
        id.slot_size.store(
            slot_size(geometry.payload_capacity) as u32,
            Ordering::Relaxed,
        );
        id.slot_count.store(geometry.slot_count, Ordering::Relaxed);
        id.segment_size.store(size as u64, Ordering::Relaxed);
        id.payload_capacity
            .store(geometry.payload_capacity as u32, Ordering::Relaxed);
        id.init_pid.store(std::process::id(), Ordering::Relaxed);
        id.created_unix_ns.store(unix_ns(), Ordering::Relaxed);
        id.created_mono_ns.store(monotonic_ns(), Ordering::Relaxed);
        id.role_lock_ino
            .store(geometry.role_lock_ino, Ordering::Relaxed);
        for line in [&header.producer, &header.consumer] {
            line.core.store(CORE_NONE, Ordering::Relaxed);
            line.batch.store(1, Ordering::Relaxed);
        }
        // SYNC: both pair with the Acquire load of state in `validate`: a
        // reader that sees LIVE sees every field above and the session.
        id.session_id.store(session, Ordering::Release);
        id.state.store(SegmentState::Live.code(), Ordering::Release);
        Ok(Segment {
            name: name.to_owned(),
            map,
            geometry,
            file_size: size as u64,
            file_id: facts.file_id,
            owner_warning: None,
        })
    }

    /// Opens a live segment read-write, waiting up to `init_wait` while it is
    /// still initializing.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::time::Duration;
    /// use forge_fabric::{CreateOptions, Segment, SegmentError};
    ///
    /// let name = format!("/forge_doc_open_{}", std::process::id());
    /// assert!(matches!(
    ///     Segment::open(&name, Duration::ZERO),
    ///     Err(SegmentError::Missing { .. })
    /// ));
    /// let created = Segment::create(&name, &CreateOptions::default())?;
    /// let opened = Segment::open(&name, Duration::from_secs(1))?;
    /// assert_eq!(opened.session_id(), created.session_id());
    /// created.unlink()?;
    /// # Ok::<(), SegmentError>(())
    /// ```
    pub fn open(name: &str, init_wait: Duration) -> Result<Segment, SegmentError> {
        validate_name(name)?;
        retry_while_initializing(name, init_wait, || Self::open_once(name, false))
    }

    /// Opens what is at `name` once. `any_state` accepts a segment whose
    /// geometry is sound in any state (to retire it in place).
    pub(super) fn open_once(name: &str, any_state: bool) -> Result<Segment, SegmentError> {
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
        // SAFETY: page-aligned, HEADER_SIZE long; every byte of Header is an
        // atomic (no padding: layout's asserts), valid for any bytes and for
        // other processes' stores; only loads are made through it.
        let header = unsafe { &*header_map.as_ptr().cast::<Header>() };
        let geometry = validate(name, header, file_size, any_state)?;
        drop(header_map);
        let len = geometry.size();
        let map = memmap2::MmapOptions::new()
            .len(len)
            .map_raw(&file)
            .map_err(map_io)?;
        // A retirement in place needs no roles; everyone else takes them on
        // the role-lock object the header names (layout 4), or on the
        // segment itself (older layouts).
        let locks = if geometry.role_lock_ino != 0 && !any_state {
            locks::open(name, &facts, geometry.role_lock_ino)?
        } else {
            locks::RoleLocks {
                file: None,
                object: LockedObject::of(facts.file_id.0, facts.file_id.1),
            }
        };
        let map = Arc::new(Mapping::new(map, len, file, locks));
        // Validated again on the mapping we keep: the header may have
        // changed between the two maps.
        if validate(name, map.header(), file_size, any_state)? != geometry {
            return Err(SegmentError::Malformed {
                name: name.to_owned(),
                problem: HeaderProblem::Changed,
            });
        }
        Ok(Segment {
            name: name.to_owned(),
            map,
            geometry,
            file_size: len as u64,
            file_id: facts.file_id,
            owner_warning: facts.owner_warning(name),
        })
    }

    /// Removes the name. Processes that map the object keep their mapping.
    pub fn unlink(&self) -> Result<(), SegmentError> {
        unlink(&self.name)
    }
}

/// Removes the object called `name`, and its role-lock object if it has
/// one. Processes that map it keep their mapping; a daemon notices the loss
/// at its next look around.
///
/// # Examples
///
/// ```
/// use forge_fabric::{segment, CreateOptions, Segment, SegmentError};
///
/// let name = format!("/forge_doc_unlink_{}", std::process::id());
/// drop(Segment::create(&name, &CreateOptions::default())?);
/// segment::unlink(&name)?;
/// assert!(matches!(segment::unlink(&name), Err(SegmentError::Missing { .. })));
/// # Ok::<(), SegmentError>(())
/// ```
pub fn unlink(name: &str) -> Result<(), SegmentError> {
    validate_name(name)?;
    sys::unlink(name)?;
    locks::remove(name)
}
