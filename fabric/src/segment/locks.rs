//! Role locks: on which object they are taken, and what the kernel says
//! about them.
//!
//! A role holder keeps an open-file-description write lock on one byte —
//! 128 for the producer, 256 for the consumer — for as long as it holds the
//! role; the kernel drops it when the holder's descriptor closes, however
//! the holder dies.
//!
//! ```text
//!  layout 4:    /dev/shm/NAME        the segment        mode M
//!               /dev/shm/NAME.roles  its role locks      mode M & 0222, empty
//!  layouts 2–3: the locks are on /dev/shm/NAME itself
//! ```
//!
//! Reading grants no power over roles. Any descriptor open for reading may
//! take a *read* lock, and a read lock on a role's byte blocks the write
//! lock a holder needs. So a layout 4 segment keeps its role locks on a
//! companion object whose mode carries only the segment's write bits: a
//! user who may only read the segment cannot open it at all, so can neither
//! take a role lock nor block one. On a segment of an older layout the
//! locks stay on the segment; there, and everywhere, only a *write* lock
//! (which only a writer can take) counts as a holder, and a read lock in
//! the way is named as a squatter.

use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};

use nix::errno::Errno;

use super::sys::{self, FileFacts};
use crate::error::SegmentError;
use crate::process::{KernelLock, LockedObject};
use crate::vocab::Role;

/// What follows a segment's name to name its role-lock object (layout 4).
/// No segment name may end with it.
pub const ROLE_LOCKS_SUFFIX: &str = ".roles";

/// The name of segment `name`'s role-lock object: `/forge_shm.roles` for
/// `/forge_shm`, the file `/dev/shm/forge_shm.roles`.
pub fn role_locks_name(name: &str) -> String {
    format!("{name}{ROLE_LOCKS_SUFFIX}")
}

/// What a role's lock byte holds right now, as the kernel says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockState {
    /// No lock: the role is free.
    Free,
    /// A write lock: a live process holds the role (only a descriptor open
    /// for writing can take one).
    Held,
    /// Read locks only: a process that may read the object is in the way of
    /// the role without holding it (a squatter).
    ReadLocked,
}

/// The object a segment's role locks are taken on, as a writer has it.
#[derive(Debug)]
pub(crate) struct RoleLocks {
    /// The role-lock object, open for writing; `None`: the segment itself
    /// (layouts 2 and 3).
    pub(crate) file: Option<File>,
    /// Which object the kernel's lock lines name for them.
    pub(crate) object: LockedObject,
}

/// Why a role-lock object cannot be trusted with a segment's roles.
fn problem(name: &str, what: String) -> SegmentError {
    SegmentError::RoleLocks {
        name: name.to_owned(),
        path: sys::shm_path(&role_locks_name(name)),
        problem: what,
    }
}

/// Checks what `stat` says of a role-lock object against its segment: a
/// regular file on the segment's device with the inode the header names,
/// owned by the segment's owner, and with no permission the segment's
/// write bits do not give (so none to read, and none to write for anyone
/// who may not write the segment).
pub(crate) fn check_object(
    meta: &std::fs::Metadata,
    segment: &FileFacts,
    header_ino: u64,
) -> Result<(), String> {
    if !meta.file_type().is_file() {
        return Err(format!(
            "it is {}, not a regular file",
            sys::file_kind(&meta.file_type())
        ));
    }
    if meta.dev() != segment.file_id.0 || meta.ino() != header_ino {
        return Err(format!(
            "it is inode {} of device {:#x}, but the segment's header names inode {header_ino} \
             of the segment's device {:#x} (another segment's, or a leftover)",
            meta.ino(),
            meta.dev(),
            segment.file_id.0
        ));
    }
    if meta.uid() != segment.uid {
        return Err(format!(
            "it belongs to uid {}, the segment to uid {}",
            meta.uid(),
            segment.uid
        ));
    }
    let mode = meta.mode() & 0o7777;
    let allowed = segment.mode & 0o222;
    if mode & !allowed != 0 {
        return Err(format!(
            "its mode {mode:04o} gives more than the segment's write bits ({allowed:04o}): \
             whoever may open it can block the roles"
        ));
    }
    Ok(())
}

/// Opens segment `name`'s role-lock object for writing, as a holder needs
/// to, and checks it against the segment (see [`check_object`]).
pub(crate) fn open(
    name: &str,
    segment: &FileFacts,
    header_ino: u64,
) -> Result<RoleLocks, SegmentError> {
    let path = sys::shm_path(&role_locks_name(name));
    let file = std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(&path)
        .map_err(|e| match e.raw_os_error().map(Errno::from_raw) {
            Some(Errno::ENOENT) => problem(name, "it does not exist".into()),
            Some(Errno::EACCES | Errno::EPERM) => problem(
                name,
                format!("this user may not open it for writing ({e}), so cannot take a role"),
            ),
            _ => problem(name, format!("opening it failed: {e}")),
        })?;
    let meta = file
        .metadata()
        .map_err(|e| problem(name, format!("fstat failed: {e}")))?;
    check_object(&meta, segment, header_ino).map_err(|what| problem(name, what))?;
    Ok(RoleLocks {
        file: Some(file),
        object: LockedObject::of(meta.dev(), meta.ino()),
    })
}

/// Creates segment `name`'s role-lock object exclusively, with the write
/// bits of `mode` only. The caller holds the initializers' lock and has
/// just created the segment itself exclusively, so whatever is at the name
/// belongs to no live segment (a segment removed by hand, or something
/// planted): it is removed first, when this user may remove it.
pub(crate) fn create(name: &str, mode: u32) -> Result<File, SegmentError> {
    let locks = role_locks_name(name);
    let bits = mode & 0o222;
    match sys::create_exclusive(&locks, bits) {
        Err(SegmentError::Exists { .. }) => {
            sys::check_removable(&locks)?;
            sys::remove(&locks)?;
            sys::create_exclusive(&locks, bits)
        }
        other => other,
    }
    .map_err(|e| match e {
        SegmentError::Exists { .. } => SegmentError::Raced {
            name: name.to_owned(),
        },
        e => e,
    })
}

/// Removes segment `name`'s role-lock object, if there is one.
pub(crate) fn remove(name: &str) -> Result<(), SegmentError> {
    sys::remove(&role_locks_name(name))
}

/// The state of `role`'s lock byte through `file` (the role-lock object or
/// a segment of an older layout; a read-only descriptor will do), `None`
/// if the kernel would not say. Locks of `file`'s own open file description
/// are not seen.
pub(crate) fn state(file: &File, role: Role) -> Option<LockState> {
    let mut fl = sys::role_flock(role, libc::F_WRLCK as libc::c_short);
    nix::fcntl::fcntl(file.as_raw_fd(), nix::fcntl::FcntlArg::F_OFD_GETLK(&mut fl)).ok()?;
    Some(match fl.l_type as i32 {
        libc::F_UNLCK => LockState::Free,
        libc::F_RDLCK => LockState::ReadLocked,
        _ => LockState::Held,
    })
}

/// The state of `role`'s lock byte on `object` among the host's `locks`
/// (`/proc/locks`): for an observer, which may not open a role-lock object.
pub(crate) fn state_among(locks: &[KernelLock], object: LockedObject, role: Role) -> LockState {
    let on = |l: &&KernelLock| l.covers(object, role.lock_offset());
    if locks.iter().filter(on).any(|l| l.write) {
        LockState::Held
    } else if locks.iter().any(|l| on(&l)) {
        LockState::ReadLocked
    } else {
        LockState::Free
    }
}

/// Who is in the way of `role` on `object` with a read lock, as far as the
/// kernel lets this process see, in words: `pid 4242 (uid 1001)`, or why it
/// cannot be told.
pub(crate) fn squatters(object: LockedObject, role: Role) -> String {
    let found = crate::process::read_lockers(object, role.lock_offset());
    if found.is_empty() {
        return "the kernel does not say who to this user (its /proc/PID/fdinfo is not readable: \
                run this as root to see)"
            .into();
    }
    found
        .iter()
        .map(|(pid, uid)| match uid {
            Some(uid) => format!("pid {pid} (uid {uid})"),
            None => format!("pid {pid}"),
        })
        .collect::<Vec<_>>()
        .join(", ")
}
